/**
 * Row plumbing for batches whose rows take different paths (per-sample adapter selection, SPEC §4.5):
 * grouping rows, running each group on its own rows and putting the results back in order, and
 * selecting a per-row weight from `K` candidates in one pass.
 *
 * Everything here is differentiable on every backend: rows move with `permuteRows` and contiguous
 * slices, and per-row weights are picked with a one-hot matrix product, never `tf.gather` (its
 * gradient kernel is missing on wasm).
 */
import { permuteRows } from '../backend/kernels/permute-rows.js';
import { matMul } from '../backend/kernels/mat-mul.js';
import { tf, type Tensor } from '../backend/tf.js';
import { isPlainObject } from '../errors.js';
import { getRng, type Rng } from '../rng.js';
import { tfSeed } from './init.js';

/** Rows that share one selection. */
export interface RowGroup {
  /** What these rows share (for adapters: the chain of names they run, `[]` = base). */
  names: string[];
  /** Row indices, ascending. */
  rows: number[];
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

/** Applies `f` to the input tensor, or to every tensor field / element whose dim 0 is the batch. */
export function mapRows<T>(input: T, batch: number, f: (t: Tensor) => Tensor): T {
  const split = (v: unknown) => (v instanceof tf.Tensor && v.rank > 0 && v.shape[0] === batch ? f(v) : v);
  if (input instanceof tf.Tensor) return f(input) as T;
  if (Array.isArray(input)) return input.map(split) as T;
  if (!isPlainObject(input)) return input;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) out[k] = split(v);
  return out as T;
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
export function runRowGroups<I>(
  input: I,
  batch: number,
  groups: readonly RowGroup[],
  run: (part: I, names: string[]) => unknown,
): unknown {
  const perm = groups.flatMap((g) => g.rows);
  const grouped = mapRows(input, batch, (t) => permuteRows(t, perm));
  const outputs: unknown[] = [];
  let offset = 0;
  for (const g of groups) {
    const start = offset;
    outputs.push(
      run(
        mapRows(grouped, batch, (t) => tf.slice(t, start, g.rows.length)),
        g.names,
      ),
    );
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
    const stacked = tf.reshape(
      items.length === 1 ? tf.expandDims(items[0]!, 0) : tf.stack(items as Tensor[]),
      [items.length, -1],
    );
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
    const keep = tf.tensor(
      pPerRow.map((p) => 1 - p),
      shape,
    );
    const scale = tf.tensor(
      pPerRow.map((p) => (p < 1 ? 1 / (1 - p) : 0)),
      shape,
    );
    const u = tf.randomUniform(x.shape, 0, 1, 'float32', tfSeed(rng ?? getRng()));
    return tf.mul(x, tf.mul(tf.cast(tf.less(u, keep), 'float32'), scale));
  });
}

/** Zero-pads the last axis of a rank-2 tensor to `size` columns. */
export function padCols(t: Tensor, size: number): Tensor {
  const c = t.shape[1]!;
  return c === size
    ? t
    : tf.pad(t, [
        [0, 0],
        [0, size - c],
      ]);
}

/** Zero-pads the first axis of a rank-2 tensor to `size` rows. */
export function padRows(t: Tensor, size: number): Tensor {
  const r = t.shape[0]!;
  return r === size
    ? t
    : tf.pad(t, [
        [0, size - r],
        [0, 0],
      ]);
}
