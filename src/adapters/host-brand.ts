import type { Module } from '../nn/module.js';

/** Marks classes produced by `withAdapters` (survives prototype swaps, unlike class identity checks). */
export const ADAPTER_HOST = Symbol.for('adapterkit.adapterHost');

/** True when `m` can hold adapters. */
export function isAdapterHost(m: unknown): boolean {
  return typeof m === 'object' && m !== null && (m as Record<symbol, unknown>)[ADAPTER_HOST] === true;
}

/** Type guard form of {@link isAdapterHost}. */
export function asHost<H extends Module>(m: Module): H | undefined {
  return isAdapterHost(m) ? (m as H) : undefined;
}
