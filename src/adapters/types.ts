import type { Tensor } from '../backend/tf.js';
import type { Module } from '../nn/module.js';

/** What flows through adapters: a tensor, positional tensors, or named arguments. */
export type AdapterInput = Tensor | Tensor[] | Record<string, unknown>;

/** A strategy config: `{type, ...options}`. */
export interface StrategyConfig {
  type: string;
  [option: string]: unknown;
}

/** An adapter config: `{type, enabled?, ...options}`. */
export interface AdapterConfig {
  type: string;
  enabled?: boolean;
  /** The host insertion point the adapter runs at (default: its type's usual point at that host). */
  location?: string;
  [option: string]: unknown;
}

/** A stored adapter config: every default written out, `enabled` and `adapterStrategy` included. */
export interface NormalizedAdapterConfig extends AdapterConfig {
  enabled: boolean;
}

/**
 * Combines an adapter's output with its input. A plain object, not a Module: it owns no parameters.
 * `ctx.module` is the host, whose `training` flag gates stochastic depth and auxiliary losses.
 */
export interface AdapterStrategy {
  forward(input: AdapterInput, adapter: Module, ctx: { module: Module }): AdapterInput;
}

/** The adapters section of a model config (`cfg.adapters`). */
export interface AdaptersConfig {
  globalCfg?: GlobalAdapterCfg;
  [name: string]: unknown;
}

/** Reserved `globalCfg` entry: the model's own keys plus the adapter meta config. */
export interface GlobalAdapterCfg {
  adapterMetaCfg?: { modules: Record<string, string>; order: string[] };
  [key: string]: unknown;
}

/** Names that can never be adapter names. */
export const RESERVED_ADAPTER_NAMES = ['globalCfg', 'global_cfg'] as const;
