import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { clipGradNorm, clipGradNormOnDevice } from '../../src/train/clip.js';

describe('clipGradNorm', () => {
  it('scales every gradient by maxNorm / (total + 1e-6) when the global norm exceeds maxNorm', () => {
    const a = tf.tensor1d([3, 0]);
    const b = tf.tensor2d([[0, 4]]);
    const { grads, totalNorm, clipCoef } = clipGradNorm(
      new Map<string, tf.Tensor>([
        ['a', a],
        ['b', b],
      ]),
      1,
    );
    expect(totalNorm).toBeCloseTo(5, 6);
    expect(clipCoef).toBeCloseTo(1 / (5 + 1e-6), 7);
    expect(Array.from(grads.get('a')!.dataSync())).toEqual([expect.closeTo(0.6, 6), 0]);
    expect(Array.from(grads.get('b')!.dataSync())).toEqual([0, expect.closeTo(0.8, 6)]);
    expect(grads.get('b')!.shape).toEqual([1, 2]);
    tf.dispose([a, b, ...grads.values()]);
  });

  it('leaves gradients unchanged within maxNorm and returns the norm', () => {
    const a = tf.tensor1d([0.3, -0.4]);
    const before = tf.memory().numTensors;
    const { grads, totalNorm } = clipGradNorm([a], 10);
    expect(totalNorm).toBeCloseTo(0.5, 6);
    expect(Array.from(grads[0]!.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(grads[0]).not.toBe(a); // always new tensors: ownership is simple
    tf.dispose(grads as tf.Tensor[]);
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
  });

  it('accepts tf.variableGrads-style records with null entries and the infinity norm', () => {
    const a = tf.tensor1d([-7, 2]);
    const { grads, totalNorm } = clipGradNorm({ a, frozen: null }, 3.5, { normType: Infinity });
    expect(totalNorm).toBe(7);
    expect(grads.frozen).toBeNull();
    expect(grads.a!.dataSync()[0]).toBeCloseTo(-3.5, 4);
    tf.dispose([a, grads.a!]);
  });

  it('rejects a non-positive maxNorm', () => {
    expect(() => clipGradNorm([], 0)).toThrow(/maxNorm must be a number > 0/);
  });
});

describe('clipGradNormOnDevice', () => {
  it("gives clipGradNorm's numbers as tensors, read asynchronously, and leaks nothing", async () => {
    const grads = [tf.tensor1d([3, 0, 1]), null, tf.tensor2d([[0, 4]])];
    const before = tf.memory().numTensors;
    for (const p of [2, 1, Infinity, 3]) {
      const sync = clipGradNorm(grads, 1.5, { normType: p });
      const dev = clipGradNormOnDevice(grads, 1.5, { normType: p });
      expect((await dev.totalNorm.data())[0]).toBe(sync.totalNorm);
      expect((await dev.clipCoef.data())[0]).toBe(sync.clipCoef);
      expect(dev.grads[1]).toBeNull();
      for (const i of [0, 2])
        expect(Array.from(await dev.grads[i]!.data())).toEqual(Array.from(sync.grads[i]!.dataSync()));
      const made: Array<tf.Tensor | null> = [dev.totalNorm, dev.clipCoef, ...dev.grads, ...sync.grads];
      tf.dispose(made.filter((t): t is tf.Tensor => t !== null));
    }
    expect(tf.memory().numTensors).toBe(before);
    const empty = clipGradNormOnDevice([null], 1);
    expect([(await empty.totalNorm.data())[0], (await empty.clipCoef.data())[0]]).toEqual([0, 1]);
    const inputs: Array<tf.Tensor | null> = grads;
    tf.dispose([empty.totalNorm, empty.clipCoef, ...inputs.filter((t): t is tf.Tensor => t !== null)]);
  });
});
