import { describe, expect, it } from 'vitest';
import { AdapterError } from '../../src/errors.js';
import { createRng } from '../../src/rng.js';
import {
  countLmEvalBatches,
  countLmTargets,
  evalLmWindows,
  padBatch,
  permutation,
  sampleLmBatch,
} from '../../src/data/batching.js';

const range = (n: number, offset = 10) => Int32Array.from({ length: n }, (_, i) => i + offset);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AdapterError);
    return (e as AdapterError).code;
  }
  throw new Error('expected a throw');
}

describe('sampleLmBatch', () => {
  it('returns [batch, seqLen] inputs with targets shifted by one', () => {
    const ids = range(1000);
    const b = sampleLmBatch(ids, 8, 16, createRng(1));
    expect(b.shape).toEqual([8, 16]);
    expect(b.inputs.length).toBe(8 * 16);
    expect(b.targets.length).toBe(8 * 16);
    expect(b.starts.length).toBe(8);
    for (let r = 0; r < 8; r++) {
      const s = b.starts[r]!;
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s + 16).toBeLessThanOrEqual(ids.length - 1);
      for (let t = 0; t < 16; t++) {
        expect(b.inputs[r * 16 + t]).toBe(ids[s + t]);
        expect(b.targets[r * 16 + t]).toBe(ids[s + t + 1]);
        if (t + 1 < 16) expect(b.inputs[r * 16 + t + 1]).toBe(b.targets[r * 16 + t]);
      }
    }
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const ids = range(5000);
    const a = sampleLmBatch(ids, 4, 32, createRng(7));
    const b = sampleLmBatch(ids, 4, 32, createRng(7));
    const c = sampleLmBatch(ids, 4, 32, createRng(8));
    expect(Array.from(a.inputs)).toEqual(Array.from(b.inputs));
    expect(Array.from(a.starts)).not.toEqual(Array.from(c.starts));
  });

  it('reaches every start, including the last one, on a tiny text', () => {
    const ids = range(5);
    const seen = new Set<number>();
    const rng = createRng(3);
    for (let i = 0; i < 200; i++) seen.add(sampleLmBatch(ids, 1, 4, rng).starts[0]!);
    expect([...seen].sort()).toEqual([0]);
    const seen2 = new Set<number>();
    for (let i = 0; i < 200; i++) seen2.add(sampleLmBatch(range(8), 1, 4, rng).starts[0]!);
    expect([...seen2].sort()).toEqual([0, 1, 2, 3]);
  });

  it('rejects bad sizes and too-short texts', () => {
    expect(code(() => sampleLmBatch(range(10), 0, 4, createRng(0)))).toBe('INVALID_CONFIG');
    expect(code(() => sampleLmBatch(range(10), 2, 2.5, createRng(0)))).toBe('INVALID_CONFIG');
    expect(code(() => sampleLmBatch(range(4), 2, 4, createRng(0)))).toBe('INVALID_INPUT');
  });
});

describe('evalLmWindows', () => {
  const cases: [number, number, number][] = [
    [0, 4, 2],
    [1, 4, 2],
    [2, 4, 2],
    [9, 4, 2], // 8 targets = exactly 2 windows = 1 batch
    [10, 4, 2], // 9 targets: last window has 1 target
    [17, 4, 2], // 16 targets: 4 windows, 2 full batches
    [23, 4, 3], // 22 targets: 6 windows: 2 batches, last window partial
    [100, 7, 5],
    [1001, 16, 4],
  ];
  for (const [n, seqLen, batch] of cases) {
    it(`covers ${n} ids exactly once (seqLen ${seqLen}, batch ${batch})`, () => {
      const ids = range(n);
      const batches = [...evalLmWindows(ids, seqLen, batch)];
      expect(batches.length).toBe(countLmEvalBatches(n, seqLen, batch));
      const realInputs: number[] = [];
      const realTargets: number[] = [];
      let next = 0;
      for (const b of batches) {
        expect(b.shape).toEqual([batch, seqLen]);
        expect(b.inputs.length).toBe(batch * seqLen);
        expect(b.start).toBe(next);
        let real = 0;
        for (let i = 0; i < batch * seqLen; i++) {
          if (b.mask[i] === 0) {
            real++;
            realInputs.push(b.inputs[i]!);
            realTargets.push(b.targets[i]!);
          } else {
            expect(b.mask[i]).toBe(1);
            expect(b.inputs[i]).toBe(0);
            expect(b.targets[i]).toBe(0);
          }
        }
        expect(real).toBe(b.numTargets);
        expect(b.rows).toBe(Math.ceil(b.numTargets / seqLen));
        // padding only at the end of the batch: mask is 0…0 1…1
        expect(Array.from(b.mask.subarray(0, b.numTargets)).every((m) => m === 0)).toBe(true);
        next += b.numTargets;
        // within a row, each target is the next input
        for (let r = 0; r < batch; r++)
          for (let t = 0; t + 1 < seqLen; t++) {
            const i = r * seqLen + t;
            if (b.mask[i + 1] === 0) expect(b.inputs[i + 1]).toBe(b.targets[i]);
          }
      }
      expect(realTargets.length).toBe(countLmTargets(n));
      expect(realTargets).toEqual(Array.from(ids.subarray(1)));
      expect(realInputs).toEqual(Array.from(ids.subarray(0, Math.max(0, n - 1))));
    });
  }

  it('uses padId for padding and validates sizes eagerly', () => {
    const [b] = [...evalLmWindows(range(3), 4, 1, -1)];
    expect(Array.from(b!.inputs)).toEqual([10, 11, -1, -1]);
    expect(Array.from(b!.targets)).toEqual([11, 12, -1, -1]);
    expect(Array.from(b!.mask)).toEqual([0, 0, 1, 1]);
    expect(code(() => evalLmWindows(range(3), 0, 1))).toBe('INVALID_CONFIG');
    expect(code(() => evalLmWindows(range(3), 4, -2))).toBe('INVALID_CONFIG');
  });
});

describe('padBatch', () => {
  it('pads to the longest sequence and masks exactly the padding', () => {
    const seqs = [Int32Array.of(5, 6, 7), Int32Array.of(8), new Int32Array(0), Int32Array.of(9, 9, 9, 9)];
    const p = padBatch(seqs);
    expect(p.shape).toEqual([4, 4]);
    expect(Array.from(p.lengths)).toEqual([3, 1, 0, 4]);
    expect(Array.from(p.ids)).toEqual([5, 6, 7, 0, 8, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9]);
    expect(Array.from(p.mask)).toEqual([0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
  });

  it('truncates to maxLen and pads short sequences to it', () => {
    const p = padBatch([Int32Array.of(1, 2, 3, 4, 5), Int32Array.of(6)], 3, 99);
    expect(p.shape).toEqual([2, 3]);
    expect(Array.from(p.ids)).toEqual([1, 2, 3, 6, 99, 99]);
    expect(Array.from(p.mask)).toEqual([0, 0, 0, 0, 1, 1]);
    expect(Array.from(p.lengths)).toEqual([3, 1]);
    expect(padBatch([new Int32Array(0)]).shape).toEqual([1, 1]);
    expect(padBatch([]).shape).toEqual([0, 1]);
    expect(code(() => padBatch([Int32Array.of(1)], 0))).toBe('INVALID_CONFIG');
  });
});

describe('permutation', () => {
  it('is a deterministic permutation', () => {
    const p = permutation(100, createRng(5));
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(permutation(100, createRng(5)))).toEqual(Array.from(p));
    expect(Array.from(permutation(100, createRng(6)))).not.toEqual(Array.from(p));
    expect(permutation(0, createRng(0)).length).toBe(0);
  });
});
