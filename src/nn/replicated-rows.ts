/**
 * Rows that travel with a batch which an adapter setup replicated (a `Parallel` composition block
 * turns a batch of `B` rows into `n·B`: copy `i` in rows `i·B … (i+1)·B − 1`). What AdapterHub's
 * `adjust_tensors_for_parallel` does for masks and positions.
 */
import { tf, type Tensor } from '../backend/tf.js';

/**
 * `t` repeated along dim 0 so that it has as many rows as `ref`, when `ref` has a whole multiple
 * (> 1) of `t`'s rows; otherwise `t` itself (callers' own shape checks then apply).
 *
 * @example
 * ```ts
 * matchBatchRows(h, keyPaddingMask); // h [2B, T, D], mask [B, T] → [2B, T]
 * ```
 */
export function matchBatchRows(ref: Tensor, t: Tensor): Tensor {
  const rows = ref.shape[0];
  const own = t.shape[0];
  if (t.rank === 0 || rows === undefined || own === undefined || own === 0 || rows <= own || rows % own !== 0)
    return t;
  return tf.concat(
    Array.from({ length: rows / own }, () => t),
    0,
  );
}
