/**
 * `x · Wᵀ` for a weight in PyTorch's `[out, in]` layout, the product of every linear layer. Its
 * gradient uses explicit transposes on wasm (where `transposeA/B` flags run 10–50× slower, see
 * TFJS-NOTES) and BLAS flags when native kernels are active; a frozen weight gets no gradient.
 */
import { tf, type Tensor } from '../tf.js';
import { nativeKernelsActive } from '../native.js';
import { customGrad1, customGrad2 } from './custom-grad.js';

/** `x·Wᵀ`, untaped. */
function xWeightT(x: Tensor, w: Tensor): Tensor {
  return nativeKernelsActive() ? tf.matMul(x, w, false, true) : tf.matMul(x, tf.transpose(w));
}

const linearFast = customGrad2((x, w, save) => {
  save([x, w]);
  return {
    value: xWeightT(x, w),
    gradFunc: (dy: Tensor, saved: Tensor[]) => {
      const [sx, sw] = saved as [Tensor, Tensor];
      const dw = nativeKernelsActive() ? tf.matMul(dy, sx, true, false) : tf.matMul(tf.transpose(dy), sx);
      return [tf.matMul(dy, sw), dw];
    },
  };
});

/**
 * `x · Wᵀ` for `x [..., in]` and `W [out, in]` (PyTorch's layout). Flattens leading axes so the
 * product is one 2-D matMul. When `W` is a frozen variable, its gradient is never computed.
 */
export function matMulWeightT(x: Tensor, w: Tensor): Tensor {
  const inF = w.shape[1]!;
  const outF = w.shape[0]!;
  const lead = x.shape.slice(0, -1);
  const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, inF]);
  let y: Tensor;
  if ((w as tf.Variable).trainable === false) {
    // Frozen weight: differentiate with respect to x only (adapter-only training skips dW).
    const f = customGrad1((xi) => ({
      value: xWeightT(xi, w),
      gradFunc: (dy) => [tf.matMul(dy, w)],
    }));
    y = f(x2);
  } else {
    y = linearFast(x2, w);
  }
  return x.rank === 2 ? y : tf.reshape(y, [...lead, outF]);
}
