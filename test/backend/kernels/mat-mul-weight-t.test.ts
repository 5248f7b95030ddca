import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { activateNative } from '../../../src/backend/native.js';
import { matMulWeightT } from '../../../src/backend/kernels/mat-mul-weight-t.js';
import { maxAbsDiff } from '../../helpers.js';

describe('matMulWeightT (x · Wᵀ, W in [out, in] layout)', () => {
  it('value and gradients equal tf.matMul(x, W, false, true) for rank-2 and rank-3 x, on every path', () => {
    const nativeBuilt = activateNative({ enabled: true }).active;
    try {
      for (const native of nativeBuilt ? [false, true] : [false]) {
        activateNative({ enabled: native });
        const w = tf.variable(tf.randomNormal([4, 6], 0, 1, 'float32', 1));
        for (const shape of [
          [3, 6],
          [2, 3, 6],
        ]) {
          const x = tf.randomNormal(shape, 0, 1, 'float32', 2);
          const y = matMulWeightT(x, w);
          expect(y.shape).toEqual([...shape.slice(0, -1), 4]);
          // Reference: the built-in product on x flattened to 2-D (its gradient does not broadcast W).
          const builtIn = (a: Tensor, b: Tensor) =>
            tf.reshape(tf.matMul(tf.reshape(a, [-1, 6]), b, false, true), y.shape);
          expect(maxAbsDiff(y, builtIn(x, w))).toBeLessThan(1e-5);
          const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 3);
          const mine = tf.grads((a: Tensor, b: Tensor) => matMulWeightT(a, b))([x, w], dy);
          const ref = tf.grads(builtIn)([x, w], dy);
          expect(maxAbsDiff(mine[0]!, ref[0]!)).toBeLessThan(1e-4);
          expect(maxAbsDiff(mine[1]!, ref[1]!)).toBeLessThan(1e-4);
        }
        w.dispose();
      }
    } finally {
      activateNative({ enabled: nativeBuilt });
    }
  });

  it('a frozen weight is not on the gradient path (its gradient is never computed); x still gets its own', () => {
    const w = tf.variable(tf.randomNormal([4, 6], 0, 1, 'float32', 1), false);
    const x = tf.randomNormal([3, 6], 0, 1, 'float32', 2);
    expect(() => tf.grads((a: Tensor, b: Tensor) => tf.sum(matMulWeightT(a, b)))([x, w])).toThrow(
      /Cannot compute gradient/,
    );
    const gx = tf.grad((a: Tensor) => tf.sum(matMulWeightT(a, w)))(x);
    const ref = tf.grad((a: Tensor) => tf.sum(tf.matMul(a, w, false, true)))(x);
    expect(maxAbsDiff(gx, ref)).toBeLessThan(1e-5);
    tf.dispose([w, x, gx, ref]);
  });
});
