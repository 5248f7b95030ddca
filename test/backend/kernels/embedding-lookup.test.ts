import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { embeddingLookup } from '../../../src/backend/kernels/embedding-lookup.js';
import { maxAbsDiff } from '../../helpers.js';

describe('embeddingLookup', () => {
  it('returns table rows shaped [...ids, dim], and its gradient adds dy into each looked-up row (repeats accumulate) on wasm', () => {
    expect(tf.getBackend()).toBe('wasm');
    const table = tf.tensor2d([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    const ids = tf.tensor2d(
      [
        [2, 0],
        [2, 2],
      ],
      undefined,
      'int32',
    );
    const y = embeddingLookup(ids, table);
    expect(y.shape).toEqual([2, 2, 2]);
    expect(y.arraySync()).toEqual([
      [
        [4, 5],
        [0, 1],
      ],
      [
        [4, 5],
        [4, 5],
      ],
    ]);
    const dy = tf.tensor3d([
      [
        [1, 10],
        [2, 20],
      ],
      [
        [3, 30],
        [4, 40],
      ],
    ]);
    const g = tf.grad((t: Tensor) => embeddingLookup(ids, t))(table, dy);
    // row 0 ← dy[0][1]; row 1 unused; row 2 ← dy[0][0] + dy[1][0] + dy[1][1]
    expect(
      maxAbsDiff(
        g,
        tf.tensor2d([
          [2, 20],
          [0, 0],
          [8, 80],
        ]),
      ),
    ).toBe(0);
  });
});
