import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { toVariable } from '../../src/nn/module.js';
import { bitsPerChar, crossEntropy, mseLoss, tokenNll } from '../../src/train/losses.js';

const nllRef = (row: number[], target: number) => {
  const m = Math.max(...row);
  return m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0)) - row[target]!;
};

describe('cross-entropy', () => {
  const logitsData = [
    [
      [1, 2, 0.5],
      [0.1, -1, 3],
      [5, 5, 5],
      [2, 1, 0],
    ],
    [
      [0, 0, 1],
      [100, 200, 300],
      [1, 1, 1],
      [-3, 2, 0],
    ],
  ];
  const targetsData = [
    [1, 2, 0, 0],
    [2, 1, 2, 1],
  ];
  const maskData = [
    [false, false, false, true],
    [false, true, true, true],
  ];

  it('mean over unpadded positions only, matching a float64 reference', () => {
    const logits = tf.tensor3d(logitsData);
    const targets = tf.tensor2d(targetsData, [2, 4], 'int32');
    const mask = tf.tensor2d(maskData, [2, 4], 'bool');
    const loss = crossEntropy(logits, targets, { mask });
    let sum = 0;
    let n = 0;
    for (let b = 0; b < 2; b++)
      for (let t = 0; t < 4; t++)
        if (!maskData[b]![t]) {
          sum += nllRef(logitsData[b]![t]!, targetsData[b]![t]!);
          n++;
        }
    expect(loss.dataSync()[0]).toBeCloseTo(sum / n, 5);
    const bpc = bitsPerChar(logits, targets, mask); // a bare mask works as the third argument
    expect(bpc.dataSync()[0]).toBeCloseTo(sum / n / Math.LN2, 5);
    const nll = tokenNll(logits, targets, { mask }).arraySync() as number[][];
    expect(nll[0]![3]).toBe(0);
    expect(nll[1]![1]).toBe(0);
    expect(nll[0]![1]).toBeCloseTo(nllRef(logitsData[0]![1]!, 2), 5);
    tf.dispose([logits, targets, mask, loss, bpc]);
  });

  it('padded positions change neither the loss nor the gradient, and get zero gradient', () => {
    const targets = tf.tensor2d(targetsData, [2, 4], 'int32');
    const mask = tf.tensor2d(maskData, [2, 4], 'bool');
    const run = (perturb: number) => {
      const data = logitsData.map((r, b) =>
        r.map((row, t) => row.map((x) => (maskData[b]![t] ? x + perturb : x))),
      );
      const logits = toVariable(tf.tensor3d(data));
      const { value, grads } = tf.variableGrads(() => crossEntropy(logits, targets, { mask }), [logits]);
      const out = { loss: value.dataSync()[0]!, grad: grads[logits.name]!.arraySync() as number[][][] };
      tf.dispose([value, grads[logits.name]!, logits]);
      return out;
    };
    const a = run(0);
    const b = run(1000);
    expect(b.loss).toBe(a.loss);
    expect(b.grad).toEqual(a.grad);
    expect(a.grad[0]![3]).toEqual([0, 0, 0]);
    // Unpadded gradient = (softmax − onehot) / count.
    const row = logitsData[0]![0]!;
    const z = row.reduce((s, x) => s + Math.exp(x), 0);
    const count = 4; // unpadded positions
    row.forEach((x, i) =>
      expect(a.grad[0]![0]![i]).toBeCloseTo((Math.exp(x) / z - (i === 1 ? 1 : 0)) / count, 6),
    );
    tf.dispose([targets, mask]);
  });

  it('[N, V] logits, ignoreIndex, and large logits stay finite', () => {
    const logits = tf.tensor2d([
      [1000, 0],
      [-1000, 1000],
      [3, 4],
    ]);
    const targets = tf.tensor1d([0, 0, -100], 'int32');
    const loss = crossEntropy(logits, targets);
    expect(loss.dataSync()[0]).toBeCloseTo(1000, 3); // (0 + 2000) / 2
    tf.dispose([logits, targets, loss]);
  });

  it('rejects out-of-range targets at counted positions and mismatched shapes', () => {
    const logits = tf.zeros([2, 3]);
    const bad = tf.tensor1d([0, 3], 'int32');
    expect(() => crossEntropy(logits, bad)).toThrow(/target id 3 at flat position 1 is outside \[0, 3\)/);
    const masked = tf.tensor1d([0, 1], 'bool');
    expect(() => crossEntropy(logits, bad, { mask: masked })).not.toThrow();
    const wrong = tf.tensor1d([0, 1, 2], 'int32');
    expect(() => crossEntropy(logits, wrong)).toThrow(/targets must have shape \[2\]/);
    const allMasked = tf.tensor1d([1, 1], 'bool');
    expect(() => crossEntropy(logits, bad, { mask: allMasked })).toThrow(/every one of the 2 positions/);
    tf.dispose([logits, bad, masked, wrong, allMasked]);
  });

  it('leaves no tensors behind', () => {
    const logits = tf.randomNormal([2, 3, 5]);
    const targets = tf.zeros([2, 3], 'int32');
    const before = tf.memory().numTensors;
    const loss = crossEntropy(logits, targets);
    loss.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, targets]);
  });
});

describe('mseLoss', () => {
  it('is the mean of squared differences', () => {
    const a = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const b = tf.tensor2d([
      [0, 2],
      [3, 6],
    ]);
    const l = mseLoss(a, b);
    expect(l.dataSync()[0]).toBeCloseTo(5 / 4, 6);
    expect(() => mseLoss(a, tf.zeros([4]))).toThrow(/same shape/);
    tf.dispose([a, b, l]);
  });
});
