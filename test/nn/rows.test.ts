import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import {
  groupRows,
  invertPerm,
  mapRows,
  padCols,
  padRows,
  rowDropout,
  rowSelection,
  runRowGroups,
  selectPerRow,
} from '../../src/nn/rows.js';
import { createRng } from '../../src/rng.js';

describe('row grouping', () => {
  it('groupRows groups identical selections in first-appearance order, rows ascending', () => {
    expect(groupRows([['a'], [], ['a', 'b'], ['a'], []])).toEqual([
      { names: ['a'], rows: [0, 3] },
      { names: [], rows: [1, 4] },
      { names: ['a', 'b'], rows: [2] },
    ]);
  });

  it('invertPerm inverts a permutation', () => {
    const perm = [2, 0, 3, 1];
    const inv = invertPerm(perm);
    expect(inv).toEqual([1, 3, 0, 2]);
    expect(perm.map((p) => inv[p])).toEqual([0, 1, 2, 3]);
  });

  it('mapRows maps the tensor, or every field / element whose dim 0 is the batch, and nothing else', () => {
    const x = tf.ones([3, 2]);
    const other = tf.ones([5]);
    const double = (t: Tensor) => tf.mul(t, 2);
    expect((mapRows(x, 3, double) as Tensor).arraySync()).toEqual([
      [2, 2],
      [2, 2],
      [2, 2],
    ]);
    const obj = mapRows({ x, other, loc: 'post' }, 3, double);
    expect(obj.other).toBe(other);
    expect(obj.loc).toBe('post');
    expect(((obj.x as Tensor).arraySync() as number[][])[0]).toEqual([2, 2]);
    const arr = mapRows([x, other], 3, double);
    expect(arr[1]).toBe(other);
    expect(mapRows('text', 3, double)).toBe('text');
  });
});

describe('runRowGroups', () => {
  const x = tf.tensor2d([[0], [1], [2], [3]]);
  const groups = groupRows([['a'], ['b'], ['a'], ['b']]);
  // Each group adds 10 (a) or 100 (b) and reports its size.
  const run = (part: Tensor, names: string[]) => tf.add(part, names[0] === 'a' ? 10 : 100);

  it('runs each group on its own rows and puts the results back in the original order', () => {
    const seen: number[][] = [];
    const y = runRowGroups(x, 4, groups, (part: Tensor, names) => {
      seen.push((part.arraySync() as number[][]).map((r) => r[0]!));
      return run(part, names);
    }) as Tensor;
    expect(seen).toEqual([
      [0, 2],
      [1, 3],
    ]);
    expect(y.arraySync()).toEqual([[10], [101], [12], [103]]);
  });

  it('stitches object fields split in the input and new per-group tensors; other fields come from the first group', () => {
    const input = { x, scale: tf.scalar(1) };
    const out = runRowGroups(input, 4, groups, (part: typeof input, names) => ({
      x: run(part.x, names),
      extra: tf.fill([part.x.shape[0]!], names[0] === 'a' ? 1 : 2),
      scale: part.scale,
      tag: names[0],
    })) as { x: Tensor; extra: Tensor; scale: Tensor; tag: string };
    expect(out.x.arraySync()).toEqual([[10], [101], [12], [103]]);
    expect(out.extra.arraySync()).toEqual([1, 2, 1, 2]);
    expect(out.scale).toBe(input.scale);
    expect(out.tag).toBe('a');
  });

  it('has gradients through the permutation and slices on wasm', () => {
    const g = tf.grad(
      (t: Tensor) =>
        runRowGroups(t, 4, groups, (part: Tensor, names) => tf.mul(part, names[0] === 'a' ? 2 : 3)) as Tensor,
    )(x);
    expect(g.arraySync()).toEqual([[2], [3], [2], [3]]);
  });
});

describe('per-row selection', () => {
  it('rowSelection is one-hot per row; an index outside [0, K) (the base) gives a zero row', () => {
    expect(rowSelection([1, 2, 0, -1], 2).arraySync()).toEqual([
      [0, 1],
      [0, 0],
      [1, 0],
      [0, 0],
    ]);
  });

  it('selectPerRow picks each row its item (zeros for base rows); unselected items get a zero gradient', () => {
    const items = [
      tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
      tf.tensor2d([
        [5, 6],
        [7, 8],
      ]),
      tf.tensor2d([
        [9, 9],
        [9, 9],
      ]),
    ];
    const sel = rowSelection([1, 3, 0], 3);
    const y = selectPerRow(sel, items);
    expect(y.shape).toEqual([3, 2, 2]);
    expect(y.arraySync()).toEqual([
      [
        [5, 6],
        [7, 8],
      ],
      [
        [0, 0],
        [0, 0],
      ],
      [
        [1, 2],
        [3, 4],
      ],
    ]);
    const grads = tf.grads((a: Tensor, b: Tensor, c: Tensor) => tf.sum(selectPerRow(sel, [a, b, c])))(items);
    expect(grads.map((g) => g.arraySync())).toEqual([
      [
        [1, 1],
        [1, 1],
      ],
      [
        [1, 1],
        [1, 1],
      ],
      [
        [0, 0],
        [0, 0],
      ],
    ]);
    expect(selectPerRow(rowSelection([0, 0], 1), [items[0]!]).arraySync()).toEqual([
      [
        [1, 2],
        [3, 4],
      ],
      [
        [1, 2],
        [3, 4],
      ],
    ]);
  });

  it('rowDropout: p = 0 rows unchanged, p = 1 rows zero, kept elements scaled by 1/(1 − p); all-zero p returns the input', () => {
    const x = tf.ones([3, 400]);
    expect(rowDropout(x, [0, 0, 0])).toBe(x);
    const y = rowDropout(x, [0, 1, 0.5], createRng(7)).arraySync() as number[][];
    expect(y[0]!.every((v) => v === 1)).toBe(true);
    expect(y[1]!.every((v) => v === 0)).toBe(true);
    expect(y[2]!.every((v) => v === 0 || v === 2)).toBe(true);
    const kept = y[2]!.filter((v) => v === 2).length;
    expect(kept).toBeGreaterThan(120);
    expect(kept).toBeLessThan(280);
    const again = rowDropout(x, [0, 1, 0.5], createRng(7)).arraySync() as number[][];
    expect(again).toEqual(y); // seeded from the rng
  });

  it('padCols / padRows zero-pad a matrix to a size, and return it as is when it already has that size', () => {
    const m = tf.tensor2d([[1, 2]]);
    expect(padCols(m, 3).arraySync()).toEqual([[1, 2, 0]]);
    expect(padRows(m, 2).arraySync()).toEqual([
      [1, 2],
      [0, 0],
    ]);
    expect(padCols(m, 2)).toBe(m);
    expect(padRows(m, 1)).toBe(m);
  });
});
