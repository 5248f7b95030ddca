/**
 * The explicit transpose the library's matMul gradients use on wasm: a matMul after `tf.transpose`
 * runs 10–50× faster there than one with a `transposeA/B` flag (measured in TFJS-NOTES).
 */
import { tf, type Tensor } from '../tf.js';

/** Swaps the last two axes. */
export function transposeLast2(t: Tensor): Tensor {
  const r = t.rank;
  if (r === 2) return tf.transpose(t);
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(t, perm);
}
