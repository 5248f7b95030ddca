/**
 * Per-sample adapter selection (SPEC §4.5): row `i` of a batch runs `adapterNames[i]`.
 *
 * Semantics: rows are grouped by selection (groups in first-appearance order); each group runs as if
 * it were the whole batch with exactly its selection enabled, in the current mode.
 *
 * Two ways to compute it:
 * - **Grouped** ({@link runRowGroups}): rows are regrouped with a permutation and contiguous slices,
 *   each group runs its chain, and the rows are put back. Always correct, one pass per group. The
 *   permutation and slices have gradients on every backend.
 * - **One pass** (row-selected weights): when every row runs at most one adapter of a kind whose
 *   weights can be selected per row, the adapters' weights are stacked `[K, …]` (zero-padded to the
 *   largest bottleneck / rank), each row picks its slot with a one-hot matrix product
 *   `oneHot(rowIdx, K) · reshape(stack, [K, −1])` ({@link selectPerRow}; a base row has index `K`,
 *   i.e. an all-zero one-hot row, so it selects zero weights), and the per-row products run as one
 *   batched matMul. `tf.gather` is avoided on purpose: its gradient kernel is missing on wasm. Used
 *   by LoRA wrappers (`lora/layer.ts`) and, on hosts, by bottleneck (`linear`) adapters
 *   ({@link forwardPerSample}).
 */
import { matMul, permuteRows } from '../backend/kernels.js';
import { tf, type Tensor } from '../backend/tf.js';
import { check, isPlainObject } from '../errors.js';
import { activationFn } from '../nn/activations.js';
import { ActivationLayer } from '../nn/activations.js';
import { batchedMatMul } from '../nn/attention.js';
import { tfSeed } from '../nn/init.js';
import { LayerNorm, Linear, layerNorm } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { getRng, type Rng } from '../rng.js';
import { ADAPTER_HOST } from './host-brand.js';
import { LinearAdapter } from './linear/layer.js';
import { ResidualAddStrategy } from './strategies/residual-add.js';
import type { AdapterInput, AdapterStrategy } from './types.js';

/** Selects the base model (no adapter) for a row. */
export const BASE_SELECTION = '__base__';

/** One row's selection: an adapter name, a chain of names run in order, or `'__base__'`. */
export type AdapterSelection = string | string[];

/** Rows that share one selection. */
export interface RowGroup {
  /** The adapter chain of these rows (`[]` = base). */
  names: string[];
  /** Row indices, ascending. */
  rows: number[];
}

/**
 * Marks a host prototype whose `forwardSingleEnabledAdapter` runs `linear` adapters on `input.x` at
 * insertion point `'post'` only (passing the input through elsewhere) and puts the result back in
 * `x` — what attention hosts do (SPEC §2.7). Lets {@link forwardPerSample} use the one-pass path on
 * such hosts.
 */
export const POINT_DISPATCH: unique symbol = Symbol.for('adapterkit.pointDispatch') as never;

interface SelectableHost extends Module {
  heldAdapterNames(): string[];
  getAdapterModule(name: string): Module | undefined;
  forwardAdapterChain<T extends AdapterInput>(input: T, names: readonly string[]): T;
}

/** Batch size of a tensor input, or of the first tensor in an object or array input. */
export function batchSizeOf(input: unknown): number {
  if (input instanceof tf.Tensor) {
    check(input.rank > 0, 'BATCH_SELECTION', () => 'adapterNames needs an input with a batch dimension (dim 0); got a scalar');
    return input.shape[0]!;
  }
  const values = isPlainObject(input) || Array.isArray(input) ? Object.values(input as object) : [];
  const first = values.find((v) => v instanceof tf.Tensor && v.rank > 0) as Tensor | undefined;
  check(first, 'BATCH_SELECTION', () => 'adapterNames needs a tensor input (or an object or array holding one) to select rows from');
  return first.shape[0]!;
}

/** Applies `f` to the input tensor, or to every tensor field / element whose dim 0 is the batch. */
function mapRows<T>(input: T, batch: number, f: (t: Tensor) => Tensor): T {
  const split = (v: unknown) => (v instanceof tf.Tensor && v.rank > 0 && v.shape[0] === batch ? f(v) : v);
  if (input instanceof tf.Tensor) return f(input) as T;
  if (Array.isArray(input)) return input.map(split) as T;
  if (!isPlainObject(input)) return input;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) out[k] = split(v);
  return out as T;
}

/** Resolves each row's selection to a list of adapter names, validating them. */
export function normalizeSelection(selection: readonly AdapterSelection[], batch: number, valid: string[]): string[][] {
  check(
    Array.isArray(selection),
    'BATCH_SELECTION',
    () => `adapterNames must be an array with one entry per batch row, got ${typeof selection}`,
  );
  check(
    selection.length === batch,
    'BATCH_SELECTION',
    () => `adapterNames has ${selection.length} entries but the batch has ${batch} rows; give one entry per row`,
    () => ({ entries: selection.length, batch }),
  );
  return selection.map((sel) => {
    const names = Array.isArray(sel) ? sel : sel === BASE_SELECTION ? [] : [sel];
    for (const n of names) {
      check(
        valid.includes(n),
        'UNKNOWN_ADAPTER',
        () => `adapterNames: unknown adapter '${String(n)}'; valid names: ${[...valid, BASE_SELECTION].join(', ')}`,
        () => ({ name: n, valid: [...valid, BASE_SELECTION] }),
      );
    }
    return names;
  });
}

/** Groups row indices by identical selection, in first-appearance order. */
export function groupRows(perRow: string[][]): RowGroup[] {
  const groups = new Map<string, RowGroup>();
  perRow.forEach((names, row) => {
    const key = JSON.stringify(names);
    const g = groups.get(key) ?? { names, rows: [] };
    g.rows.push(row);
    groups.set(key, g);
  });
  return [...groups.values()];
}

/** `inv[perm[i]] = i`. */
export function invertPerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((row, pos) => (inv[row] = pos));
  return inv;
}

/**
 * The grouped computation: permutes the rows of `input` (every tensor, field or element whose dim 0
 * is `batch`) so that each group is contiguous, calls `run(part, names)` for each group in order, and
 * puts the rows of the results back in the original order.
 *
 * Results may be a tensor, an array or a plain object. An element or field is stitched when it was
 * split in the input, or (absent from the input) when every group returned a tensor whose dim 0 is
 * the group's size; anything else is taken from the first group's result.
 */
export function runRowGroups(
  input: unknown,
  batch: number,
  groups: readonly RowGroup[],
  run: (part: any, names: string[]) => unknown,
): unknown {
  const perm = groups.flatMap((g) => g.rows);
  const grouped = mapRows(input, batch, (t) => permuteRows(t, perm));
  const outputs: unknown[] = [];
  let offset = 0;
  for (const g of groups) {
    const start = offset;
    outputs.push(run(mapRows(grouped, batch, (t) => tf.slice(t, start, g.rows.length)), g.names));
    offset += g.rows.length;
  }
  const inverse = invertPerm(perm);
  const stitch = (parts: Tensor[]) => permuteRows(tf.concat(parts, 0), inverse);
  const first = outputs[0];
  if (first instanceof tf.Tensor) return stitch(outputs as Tensor[]);
  const splitIn = (k: string | number): boolean | undefined => {
    if (input instanceof tf.Tensor || (!isPlainObject(input) && !Array.isArray(input))) return undefined;
    if (!(k in (input as object))) return undefined;
    const v = (input as Record<string | number, unknown>)[k];
    return v instanceof tf.Tensor && v.rank > 0 && v.shape[0] === batch;
  };
  const stitchKey = (k: string | number): unknown => {
    const parts = outputs.map((o) => (o as Record<string | number, unknown>)[k]);
    if (!parts.every((p) => p instanceof tf.Tensor)) return parts[0];
    const wasSplit = splitIn(k);
    const perGroup = (parts as Tensor[]).every((p, i) => p.rank > 0 && p.shape[0] === groups[i]!.rows.length);
    return wasSplit === true || (wasSplit === undefined && perGroup) ? stitch(parts as Tensor[]) : parts[0];
  };
  if (Array.isArray(first)) return first.map((_, i) => stitchKey(i));
  if (!isPlainObject(first)) return first;
  const result: Record<string, unknown> = {};
  for (const k of Object.keys(first)) result[k] = stitchKey(k);
  return result;
}

// ---------------------------------------------------------------------------------------------
// One-pass helpers: per-row weight selection and per-row dropout

/**
 * The row-selection matrix `[B, K]`: row `b` is the one-hot vector of `rowIdx[b]`; an index outside
 * `[0, K)` (the base) gives an all-zero row. Built on the host: a constant with no gradient.
 */
export function rowSelection(rowIdx: readonly number[], k: number): Tensor {
  const data = new Float32Array(rowIdx.length * k);
  rowIdx.forEach((i, b) => {
    if (i >= 0 && i < k) data[b * k + i] = 1;
  });
  return tf.tensor2d(data, [rowIdx.length, k]);
}

/**
 * Per-row selection of `K` same-shaped tensors: `sel [B, K] · reshape(stack(items), [K, −1])`,
 * reshaped to `[B, ...shape]`. A matrix product instead of `tf.gather`, so the gradient reaches the
 * selected items on every backend (wasm has no gather gradient kernel); an item no row selects gets
 * a zero gradient.
 */
export function selectPerRow(sel: Tensor, items: readonly Tensor[]): Tensor {
  const shape = items[0]!.shape;
  return tf.tidy(() => {
    const stacked = tf.reshape(items.length === 1 ? tf.expandDims(items[0]!, 0) : tf.stack(items as Tensor[]), [items.length, -1]);
    return tf.reshape(matMul(sel, stacked), [sel.shape[0]!, ...shape]);
  });
}

/**
 * Inverted dropout with a probability per row (`pPerRow[b]` for row `b`): kept elements are scaled
 * by `1/(1 − p)`, a row with `p = 1` becomes zero, a row with `p = 0` is unchanged. One seeded mask
 * draw from `rng` (default: the library RNG). Callers apply it in training only.
 */
export function rowDropout(x: Tensor, pPerRow: readonly number[], rng?: Rng): Tensor {
  if (pPerRow.every((p) => p === 0)) return x;
  return tf.tidy(() => {
    const shape = [x.shape[0]!, ...x.shape.slice(1).map(() => 1)];
    const keep = tf.tensor(pPerRow.map((p) => 1 - p), shape);
    const scale = tf.tensor(pPerRow.map((p) => (p < 1 ? 1 / (1 - p) : 0)), shape);
    const u = tf.randomUniform(x.shape, 0, 1, 'float32', tfSeed(rng ?? getRng()));
    return tf.mul(x, tf.mul(tf.cast(tf.less(u, keep), 'float32'), scale));
  });
}

/** Zero-pads the last axis of a rank-2 tensor to `size` columns. */
export function padCols(t: Tensor, size: number): Tensor {
  const c = t.shape[1]!;
  return c === size ? t : tf.pad(t, [[0, 0], [0, size - c]]);
}

/** Zero-pads the first axis of a rank-2 tensor to `size` rows. */
export function padRows(t: Tensor, size: number): Tensor {
  const r = t.shape[0]!;
  return r === size ? t : tf.pad(t, [[0, size - r], [0, 0]]);
}

// ---------------------------------------------------------------------------------------------
// Hosts

/**
 * Runs a per-sample selection on a host. When every row runs at most one adapter and every selected
 * adapter is a plain `linear` adapter with the `residualAdd` strategy and compatible settings, the
 * batch runs in one pass ({@link linearOnePass}); otherwise each row group runs its chain
 * ({@link runRowGroups}). Both give the §4.5 semantics.
 */
export function forwardPerSample(host: SelectableHost, input: AdapterInput, selection: readonly AdapterSelection[]): AdapterInput {
  const batch = batchSizeOf(input);
  const perRow = normalizeSelection(selection, batch, host.heldAdapterNames());
  const groups = groupRows(perRow);
  if (groups.length === 1) return host.forwardAdapterChain(input, groups[0]!.names);
  const fast = linearOnePass(host, input, perRow);
  if (fast) return fast;
  return runRowGroups(input, batch, groups, (part: AdapterInput, names) => host.forwardAdapterChain(part, names)) as AdapterInput;
}

/** The parts of a plain `linear` adapter the one-pass path reads. */
interface LinearParts {
  pre: boolean;
  norm: LayerNorm;
  down: Linear;
  up: Linear;
  activation: string;
  /** Output dropout probability when the adapter is in training mode, else 0. */
  dropout: number;
}

/** The parts of `a` when it is exactly a `LinearAdapter` built the standard way, else null. */
function linearParts(a: Module | undefined): LinearParts | null {
  if (!(a instanceof LinearAdapter) || Object.getPrototypeOf(a) !== LinearAdapter.prototype) return null;
  const seq = a.module;
  if (seq.namedChildren().length !== 4) return null;
  const c = (i: number) => seq.getChild(String(i));
  const pre = c(0) instanceof LayerNorm;
  const [norm, down, act, up] = pre ? [c(0), c(1), c(2), c(3)] : [c(3), c(0), c(1), c(2)];
  if (!(norm instanceof LayerNorm) || !(down instanceof Linear) || !(up instanceof Linear) || !(act instanceof ActivationLayer)) return null;
  if (down.bias || up.bias) return null;
  const name = String(act.options.activation);
  const drop = a.dropout;
  return {
    pre,
    norm,
    down,
    up,
    activation: name === 'silu' ? 'swish' : name,
    dropout: drop && drop.training ? drop.p : 0,
  };
}

/** The prototype that defines `forwardSingleEnabledAdapter` for `host`, or null if patched on the instance. */
function dispatchOwner(host: object): object | null {
  if (Object.prototype.hasOwnProperty.call(host, 'forwardSingleEnabledAdapter')) return null;
  let p = Object.getPrototypeOf(host) as object | null;
  while (p && !Object.prototype.hasOwnProperty.call(p, 'forwardSingleEnabledAdapter')) p = Object.getPrototypeOf(p) as object | null;
  return p;
}

/**
 * One pass for a batch whose rows each run one `linear` adapter (or none), on a host with the
 * default dispatch (tensor input) or an attention host (`{x, loc, …}` input, linear adapters at
 * `'post'`). Returns null when it does not apply:
 * - a row runs a chain of several adapters, or an adapter that is not exactly a `LinearAdapter`, or a
 *   strategy other than a plain `residualAdd`;
 * - the adapters disagree on input width, norm position, activation or LayerNorm eps (bottleneck
 *   widths may differ: weights are zero-padded to the widest);
 * - the host is training and some selected strategy has `stochasticDepth` or `l2Lambda` on (those
 *   draw and register per (adapter, group), which the grouped path does exactly).
 *
 * Row `b` with adapter `k` computes exactly the adapter's formula with its own LayerNorm γ/β, down
 * and up weights (selected per row by {@link selectPerRow}) and its own output dropout; base rows
 * select zero weights and return their input.
 */
function linearOnePass(host: SelectableHost, input: AdapterInput, perRow: string[][]): AdapterInput | null {
  if (perRow.some((names) => names.length > 1)) return null;
  const owner = dispatchOwner(host);
  if (!owner) return null;
  let x: Tensor;
  let rebuild: (y: Tensor) => AdapterInput;
  let passThrough = false;
  if (input instanceof tf.Tensor && Object.prototype.hasOwnProperty.call(owner, ADAPTER_HOST)) {
    x = input;
    rebuild = (y) => y;
  } else if (isPlainObject(input) && 'loc' in input && input.x instanceof tf.Tensor && Object.prototype.hasOwnProperty.call(owner, POINT_DISPATCH)) {
    x = input.x;
    rebuild = (y) => ({ ...input, x: y });
    passThrough = input.loc !== 'post';
  } else {
    return null;
  }
  const names: string[] = [];
  for (const sel of perRow) if (sel.length && !names.includes(sel[0]!)) names.push(sel[0]!);
  const parts: LinearParts[] = [];
  for (const n of names) {
    const adapter = host.getAdapterModule(n) as (Module & { adapterStrategy?: AdapterStrategy }) | undefined;
    const p = linearParts(adapter);
    const strategy = adapter?.adapterStrategy;
    if (!p || !strategy || Object.getPrototypeOf(strategy) !== ResidualAddStrategy.prototype) return null;
    const s = strategy as ResidualAddStrategy;
    if (host.training && (s.stochasticDepth > 0 || s.l2Lambda > 0)) return null;
    parts.push(p);
  }
  const ref = parts[0]!;
  const inF = ref.norm.features;
  const compatible = parts.every(
    (p) =>
      p.pre === ref.pre &&
      p.activation === ref.activation &&
      p.norm.features === inF &&
      p.norm.eps === ref.norm.eps &&
      p.down.inFeatures === inF &&
      p.up.outFeatures === inF,
  );
  if (!compatible || x.rank < 2 || x.shape[x.rank - 1] !== inF) return null;
  if (passThrough) return input; // linear adapters do not run at this insertion point
  const rowIdx = perRow.map((sel) => (sel.length ? names.indexOf(sel[0]!) : names.length));
  return rebuild(linearRowsForward(x, parts, rowIdx));
}

/** `x + out` with `out[b]` = adapter `rowIdx[b]`'s bottleneck output (0 for base rows). */
function linearRowsForward(x: Tensor, parts: LinearParts[], rowIdx: number[]): Tensor {
  return tf.tidy(() => {
    const k = parts.length;
    const b = x.shape[0]!;
    const inF = x.shape[x.rank - 1]!;
    const ref = parts[0]!;
    const dMax = Math.max(...parts.map((p) => p.down.outFeatures));
    const sel = rowSelection(rowIdx, k);
    const x3 = tf.reshape(x, [b, -1, inF]);
    const gamma = tf.reshape(selectPerRow(sel, parts.map((p) => p.norm.weight)), [b, 1, inF]);
    const beta = tf.reshape(selectPerRow(sel, parts.map((p) => p.norm.bias)), [b, 1, inF]);
    // Down `[in, dMax]` and up `[dMax, in]` per row; padded columns/rows are zero, so they add nothing.
    const down = selectPerRow(sel, parts.map((p) => padCols(tf.transpose(p.down.weight), dMax)));
    const up = selectPerRow(sel, parts.map((p) => padRows(tf.transpose(p.up.weight), dMax)));
    const act = activationFn(ref.activation);
    let out: Tensor;
    if (ref.pre) {
      const n = layerNorm(x3, gamma, beta, ref.norm.eps);
      out = batchedMatMul(act(batchedMatMul(n, down)), up);
    } else {
      out = layerNorm(batchedMatMul(act(batchedMatMul(x3, down)), up), gamma, beta, ref.norm.eps);
    }
    const pRow = rowIdx.map((i) => (i < k ? parts[i]!.dropout : 0));
    out = rowDropout(out, pRow);
    return tf.add(x, tf.reshape(out, x.shape));
  });
}
