import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { permuteRows } from '../../../src/backend/kernels/permute-rows.js';

describe('permuteRows', () => {
  it('y[i] = x[perm[i]], and the gradient puts dy back through the inverse permutation, leaking nothing', () => {
    const x = tf.tensor2d([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    const perm = [2, 0, 1];
    const before = tf.memory().numTensors;
    const y = permuteRows(x, perm);
    expect(y.arraySync()).toEqual([
      [3, 3],
      [1, 1],
      [2, 2],
    ]);
    const dy = tf.tensor2d([
      [10, 10],
      [20, 20],
      [30, 30],
    ]);
    const g = tf.grad((t: Tensor) => permuteRows(t, perm))(x, dy);
    expect(g.arraySync()).toEqual([
      [20, 20],
      [30, 30],
      [10, 10],
    ]);
    tf.dispose([y, dy, g]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
