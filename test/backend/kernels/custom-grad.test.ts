import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { customGrad1, customGrad2, customGrad3 } from '../../../src/backend/kernels/custom-grad.js';

const arr = (t: Tensor) => Array.from(t.dataSync());

describe('customGrad1/2/3', () => {
  it('the forward value is what f returns and the gradients are those of its gradFunc, with saved tensors', () => {
    // Deliberately not the true gradient, so the test sees that gradFunc is the one used.
    const double = customGrad1((a, save) => {
      save([a]);
      return { value: tf.mul(a, 2), gradFunc: (dy, [saved]) => [tf.mul(dy, saved!)] };
    });
    const x = tf.tensor1d([1, 2, 3]);
    expect(arr(double(x))).toEqual([2, 4, 6]);
    expect(arr(tf.grad((v: Tensor) => tf.sum(double(v)))(x))).toEqual([1, 2, 3]);

    const sub = customGrad2((a, b) => ({
      value: tf.sub(a, b),
      gradFunc: (dy) => [tf.mul(dy, 10), tf.mul(dy, 20)],
    }));
    const y = tf.tensor1d([1, 1, 1]);
    expect(arr(sub(x, y))).toEqual([0, 1, 2]);
    const [ga, gb] = tf.grads((a: Tensor, b: Tensor) => tf.sum(sub(a, b)))([x, y]);
    expect([arr(ga!), arr(gb!)]).toEqual([
      [10, 10, 10],
      [20, 20, 20],
    ]);

    const fma = customGrad3((a, b, c) => ({
      value: tf.add(tf.mul(a, b), c),
      gradFunc: (dy) => [tf.mul(dy, 1), tf.mul(dy, 2), tf.mul(dy, 3)],
    }));
    const z = tf.tensor1d([0, 0, 0]);
    expect(arr(fma(x, y, z))).toEqual([1, 2, 3]);
    const g3 = tf.grads((a: Tensor, b: Tensor, c: Tensor) => tf.sum(fma(a, b, c)))([x, y, z]);
    expect(g3.map((g) => arr(g)[0])).toEqual([1, 2, 3]);
  });
});
