/**
 * `a · b` with a gradient built from explicit transposes. The built-in matMul gradient passes
 * `transposeA/B` flags, which run 10–50× slower on wasm than a matMul after an explicit
 * `tf.transpose` (measured in TFJS-NOTES). With native kernels active (the BLAS runs every matMul,
 * see native.ts) transposes are free BLAS flags, so the gradient passes them instead.
 */
import { tf, type Tensor } from '../tf.js';
import { nativeKernelsActive } from '../native.js';
import { customGrad2 } from './custom-grad.js';
import { transposeLast2 } from './transpose-last2.js';

const matMulFast = customGrad2((a, b, save) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: Tensor, saved: Tensor[]) => {
      const [sa, sb] = saved as [Tensor, Tensor];
      if (nativeKernelsActive()) return [tf.matMul(dy, sb, false, true), tf.matMul(sa, dy, true, false)];
      return [tf.matMul(dy, transposeLast2(sb)), tf.matMul(transposeLast2(sa), dy)];
    },
  };
});

/**
 * `a · b` for rank-2 or equal-rank batched operands, with a gradient built from explicit
 * transposes (fast on wasm).
 */
export function matMul(a: Tensor, b: Tensor): Tensor {
  return matMulFast(a, b);
}
