/**
 * A row permutation whose gradient is a gather too, so it works where `gather`'s own gradient
 * kernel (UnsortedSegmentSum) is missing, as on wasm (TFJS-NOTES).
 */
import { tf, type Tensor } from '../tf.js';
import { customGrad1 } from './custom-grad.js';

/**
 * Rows of `x` reordered by the permutation `perm` (`y[i] = x[perm[i]]`). The gradient is the inverse
 * permutation of `dy`, a gather too, so it works where gather's own gradient kernel is missing.
 */
export function permuteRows(x: Tensor, perm: readonly number[]): Tensor {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  const f = customGrad1((t, save) => {
    const fwd = tf.tensor1d(perm as number[], 'int32');
    const bwd = tf.tensor1d(inv, 'int32');
    save([bwd]);
    const value = tf.gather(t, fwd);
    fwd.dispose();
    return { value, gradFunc: (dy, [b]) => [tf.gather(dy, b!)] };
  });
  return f(x);
}
