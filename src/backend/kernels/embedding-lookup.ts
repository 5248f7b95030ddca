/**
 * Row lookup with a gradient that works on every backend: `gather`'s own gradient needs
 * UnsortedSegmentSum, which the wasm backend lacks (TFJS-NOTES).
 */
import { tf, type Tensor } from '../tf.js';
import { nativeKernelsActive } from '../native.js';
import { customGrad1 } from './custom-grad.js';

/**
 * Row lookup `table[ids]` with a gradient that works on every backend: the gradient of the
 * table is `oneHot(ids)ᵀ · dy`, a matMul, instead of wasm's missing UnsortedSegmentSum.
 */
export function embeddingLookup(ids: Tensor, table: Tensor): Tensor {
  const num = table.shape[0]!;
  const dim = table.shape[1]!;
  const flat = tf.reshape(ids, [-1]).toInt();
  const f = customGrad1((t, save) => {
    save([flat]); // kept alive until the backward pass
    return {
      value: tf.gather(t, flat),
      gradFunc: (dy, [ids]) => {
        const oneHot = tf.oneHot(ids!, num).toFloat();
        const dy2 = tf.reshape(dy, [-1, dim]);
        return [
          nativeKernelsActive() ? tf.matMul(oneHot, dy2, true, false) : tf.matMul(tf.transpose(oneHot), dy2),
        ];
      },
    };
  });
  return tf.reshape(f(table), [...ids.shape, dim]);
}
