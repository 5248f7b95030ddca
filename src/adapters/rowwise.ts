/**
 * What lets a host run a batch whose rows select different adapters in one pass (per-sample
 * selection, SPEC §4.5), declared by each party so that the host names no adapter kind:
 * - an adapter kind declares how it computes every row's output with that row's own adapter
 *   ({@link declareRowwiseAdapter});
 * - a strategy declares how it combines those outputs with the input for all rows at once
 *   ({@link declareRowwiseStrategy});
 * - a host class declares what its `forwardSingleEnabledAdapter` hands the adapters
 *   ({@link declareRowwiseInput}).
 * A kind, strategy or host without a declaration runs per row group, which is always correct.
 *
 * Declarations hold for exactly the declared class: a subclass may change the computation, so it
 * runs per row group unless it declares again.
 */
import type { Tensor } from '../backend/tf.js';
import type { Module } from '../nn/module.js';
import type { AdapterInput, AdapterStrategy } from './types.js';

/**
 * How an adapter kind computes the outputs of a batch in one pass, row `b` with adapter
 * `rowIdx[b]` (before its strategy combines them with the input). `P` is what the pass reads from
 * one adapter (weights, settings).
 */
export interface RowwiseAdapterKind<A extends Module = Module, P = unknown> {
  /** What the pass reads from `adapter`, or null when this adapter cannot join one (e.g. a changed structure). */
  parts(adapter: A): P | null;
  /** True when adapters with these parts can share one pass on input `x`. */
  compatible(parts: readonly P[], x: Tensor): boolean;
  /**
   * The adapters' outputs, shaped as `x`: row `b` computed with `parts[rowIdx[b]]`, or zero when
   * `rowIdx[b] === parts.length` (a base row). Runs inside the caller's `tf.tidy`.
   */
  forwardRows(x: Tensor, parts: readonly P[], rowIdx: readonly number[]): Tensor;
}

/** How a strategy combines per-row adapter outputs with its input for every row at once. */
export interface RowwiseStrategyKind<S extends AdapterStrategy = AdapterStrategy> {
  /**
   * The combination `(input, outputs) → result` for `host`'s current mode, or null when this
   * strategy must run per row group (e.g. it draws or registers something per call). A zero output
   * (a base row) must leave the input unchanged.
   */
  combine(strategy: S, host: Module): ((input: Tensor, outputs: Tensor) => Tensor) | null;
}

/** What a host's `forwardSingleEnabledAdapter` hands the selected adapters, for a whole batch. */
export interface RowwiseInput {
  /** The tensor the adapters take (dim 0: the batch). */
  x: Tensor;
  /** False when the adapters do not run on this input (e.g. at another insertion point): it passes through. */
  runs: boolean;
  /** The host's result from the combined result. */
  rebuild(y: Tensor): AdapterInput;
}

/** A host's view of an input for the selected adapters, or null when the one pass does not apply. */
export type RowwiseInputOf = (input: AdapterInput, adapters: readonly Module[]) => RowwiseInput | null;

type ClassOf<T> = abstract new (...args: never[]) => T;

const adapterKinds = new WeakMap<object, RowwiseAdapterKind>();
const strategyKinds = new WeakMap<object, RowwiseStrategyKind>();
/** Keyed by the prototype that defines `forwardSingleEnabledAdapter`. */
const hostInputs = new WeakMap<object, RowwiseInputOf>();

/** Declares that adapters of exactly class `cls` can run per row in one pass. */
export function declareRowwiseAdapter<A extends Module, P>(
  cls: ClassOf<A>,
  kind: RowwiseAdapterKind<A, P>,
): void {
  adapterKinds.set(cls.prototype as object, kind as unknown as RowwiseAdapterKind);
}

/** Declares how strategies of exactly class `cls` combine per-row outputs in one pass. */
export function declareRowwiseStrategy<S extends AdapterStrategy>(
  cls: ClassOf<S>,
  kind: RowwiseStrategyKind<S>,
): void {
  strategyKinds.set(cls.prototype as object, kind as unknown as RowwiseStrategyKind);
}

/**
 * Declares what the `forwardSingleEnabledAdapter` defined by `hostClass` hands adapters. A subclass
 * that overrides `forwardSingleEnabledAdapter` runs per row group unless it declares again.
 */
export function declareRowwiseInput(hostClass: ClassOf<Module>, inputOf: RowwiseInputOf): void {
  hostInputs.set(hostClass.prototype as object, inputOf);
}

/** The one-pass declaration of `adapter`'s exact class, if any. */
export function rowwiseAdapterKindOf(adapter: Module): RowwiseAdapterKind | undefined {
  return adapterKinds.get(Object.getPrototypeOf(adapter) as object);
}

/** The one-pass declaration of `strategy`'s exact class, if any. */
export function rowwiseStrategyKindOf(strategy: AdapterStrategy): RowwiseStrategyKind | undefined {
  return strategyKinds.get(Object.getPrototypeOf(strategy) as object);
}

/**
 * The input declaration of the class that defines `host`'s `forwardSingleEnabledAdapter`, or
 * undefined when that class declared none or the method is patched on the instance.
 */
export function rowwiseInputOf(host: Module): RowwiseInputOf | undefined {
  if (Object.prototype.hasOwnProperty.call(host, 'forwardSingleEnabledAdapter')) return undefined;
  let p = Object.getPrototypeOf(host) as object | null;
  while (p && !Object.prototype.hasOwnProperty.call(p, 'forwardSingleEnabledAdapter'))
    p = Object.getPrototypeOf(p) as object | null;
  return p ? hostInputs.get(p) : undefined;
}
