import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { matchBatchRows } from '../../src/nn/replicated-rows.js';

describe('matchBatchRows', () => {
  it('repeats a [B, T] mask along dim 0 to the n·B rows of a replicated batch, copy i in rows i·B … (i+1)·B − 1', () => {
    const h = tf.zeros([6, 2, 4]);
    const mask = tf.tensor2d(
      [
        [1, 0],
        [1, 1],
      ],
      [2, 2],
      'int32',
    );
    const out = matchBatchRows(h, mask);
    expect(out.shape).toEqual([6, 2]);
    expect(out.dtype).toBe('int32');
    expect(out.arraySync()).toEqual([
      [1, 0],
      [1, 1],
      [1, 0],
      [1, 1],
      [1, 0],
      [1, 1],
    ]);
    tf.dispose([h, mask, out]);
  });

  it('returns the tensor itself when the rows already match, are not a whole multiple, or it is a scalar', () => {
    const ref = tf.zeros([4, 3]);
    for (const t of [tf.zeros([4, 3]), tf.zeros([3, 3]), tf.zeros([8, 3]), tf.scalar(1), tf.zeros([0, 3])]) {
      expect(matchBatchRows(ref, t)).toBe(t);
      t.dispose();
    }
    ref.dispose();
  });
});
