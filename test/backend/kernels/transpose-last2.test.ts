import { describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import { transposeLast2 } from '../../../src/backend/kernels/transpose-last2.js';

describe('transposeLast2', () => {
  it('swaps the last two axes at rank 2, 3 and 4', () => {
    const m = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(transposeLast2(m).arraySync()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    const b = tf.stack([m, tf.mul(m, 10)]);
    expect(transposeLast2(b).arraySync()).toEqual([
      [
        [1, 4],
        [2, 5],
        [3, 6],
      ],
      [
        [10, 40],
        [20, 50],
        [30, 60],
      ],
    ]);
    const r4 = tf.randomNormal([2, 3, 4, 5], 0, 1, 'float32', 1);
    const t = transposeLast2(r4);
    expect(t.shape).toEqual([2, 3, 5, 4]);
    expect(tf.transpose(r4, [0, 1, 3, 2]).arraySync()).toEqual(t.arraySync());
  });
});
