import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { argMax, drawToken, nextTokenProbs, sampleIndex } from '../../src/models/sampling.js';

describe('sampling', () => {
  it('sampleIndex picks the index whose cumulative probability first exceeds u', () => {
    const p = [0.2, 0.5, 0.3];
    expect(sampleIndex(p, 0)).toBe(0);
    expect(sampleIndex(p, 0.19)).toBe(0);
    expect(sampleIndex(p, 0.2)).toBe(1);
    expect(sampleIndex(p, 0.69)).toBe(1);
    expect(sampleIndex(p, 0.71)).toBe(2);
    // rounding that leaves the sum just below u still gives the last index
    expect(sampleIndex([0.5, 0.4999], 0.99995)).toBe(1);
    expect(sampleIndex([0, 1, 0], 0.5)).toBe(1);
  });

  it('argMax returns the first largest value', () => {
    expect(argMax([1, 3, 2])).toBe(1);
    expect(argMax([5, 5, 1])).toBe(0);
    expect(argMax(Float32Array.from([-3, -1, -2]))).toBe(1);
  });

  it('nextTokenProbs softmaxes each row at its temperature and returns raw logits at temperature 0', () => {
    const logits = tf.tensor2d([
      [1, 2, 3],
      [0, Math.log(3), 0],
      [3, 1, 2],
    ]);
    const before = tf.memory().numTensors;
    const [a, b, c] = nextTokenProbs(logits, [1, 0.5, 0]);
    expect(tf.memory().numTensors).toBe(before);
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const s = e[0]! + e[1]! + e[2]!;
    for (let i = 0; i < 3; i++) expect(a![i]).toBeCloseTo(e[i]! / s, 5);
    // temperature 0.5 squares the odds: [1, 9, 1] / 11
    expect(Array.from(b!).map((x) => x * 11)).toEqual([
      expect.closeTo(1, 4),
      expect.closeTo(9, 4),
      expect.closeTo(1, 4),
    ]);
    expect(Array.from(c!)).toEqual([3, 1, 2]);
    logits.dispose();
  });

  it('drawToken samples with u() above temperature 0 and takes the argmax at 0 without drawing', () => {
    const probs = Float32Array.from([0.1, 0.2, 0.7]);
    expect(drawToken(probs, 1, () => 0.05)).toBe(0);
    expect(drawToken(probs, 1, () => 0.25)).toBe(1);
    let called = 0;
    expect(
      drawToken(Float32Array.from([0.5, 4, 1]), 0, () => {
        called++;
        return 0;
      }),
    ).toBe(1);
    expect(called).toBe(0);
  });
});
