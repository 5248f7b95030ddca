import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { activateNative } from '../../../src/backend/native.js';
import { batchedMatMul } from '../../../src/backend/kernels/batched-mat-mul.js';
import { batchedMatMul as fromAttention } from '../../../src/nn/attention.js';

const maxAbsDiff = (a: Tensor, b: Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('batchedMatMul', () => {
  it('batchedMatMul matches tf.matMul and its gradients (plain wasm, and native kernels when built)', () => {
    const a = tf.randomNormal([3, 40, 33], 0, 1, 'float32', 4);
    const b = tf.randomNormal([3, 33, 35], 0, 1, 'float32', 5);
    const dy = tf.randomNormal([3, 40, 35], 0, 1, 'float32', 6);
    const nativeBuilt = activateNative({ enabled: true }).active;
    for (const native of nativeBuilt ? [false, true] : [false]) {
      activateNative({ enabled: native });
      expect(maxAbsDiff(batchedMatMul(a, b), tf.matMul(a, b))).toBeLessThan(1e-4);
      const mine = tf.grads((x: Tensor, y: Tensor) => batchedMatMul(x, y))([a, b], dy);
      const ref = tf.grads((x: Tensor, y: Tensor) => tf.matMul(x, y))([a, b], dy);
      expect(maxAbsDiff(mine[0]!, ref[0]!)).toBeLessThan(1e-4);
      expect(maxAbsDiff(mine[1]!, ref[1]!)).toBeLessThan(1e-4);
      expect(() => batchedMatMul(a, a)).toThrow(/\[3, 40, 33\] × \[3, 40, 33\]/);
      // on plain wasm the per-matrix path ran (it registers its unstack kernel on first use)
      if (!native) expect(tf.getKernel('AdapterkitUnstackLeading', 'wasm')).toBeDefined();
    }
    activateNative({ enabled: nativeBuilt });
  });

  it('batchedMatMul falls back to tf.matMul off wasm', async () => {
    const a = tf.randomNormal([3, 40, 33], 0, 1, 'float32', 4);
    const b = tf.randomNormal([3, 33, 35], 0, 1, 'float32', 5);
    const expected = tf.matMul(a, b).arraySync();
    const wasTest = tf.env().getBool('IS_TEST');
    tf.env().set('IS_TEST', true); // silences the cpu backend's "install tfjs-node" banner
    await tf.setBackend('cpu');
    try {
      const got = tf.tidy(() => batchedMatMul(a, b).arraySync()) as number[][][];
      expect(maxAbsDiff(tf.tensor(got), tf.tensor(expected))).toBeLessThan(1e-4);
    } finally {
      await tf.setBackend('wasm');
      tf.env().set('IS_TEST', wasTest);
    }
  });

  it('a single product and products below the work threshold (one batched op) match tf.matMul and leak nothing', () => {
    const cases: Array<[number[], number[]]> = [
      [
        [1, 40, 33],
        [1, 33, 35],
      ], // one product
      [
        [4, 3, 2],
        [4, 2, 5],
      ], // below the per-product work threshold
    ];
    for (const [sa, sb] of cases) {
      const a = tf.randomNormal(sa, 0, 1, 'float32', 1);
      const b = tf.randomNormal(sb, 0, 1, 'float32', 2);
      const before = tf.memory().numTensors;
      const d = tf.tidy(() => maxAbsDiff(batchedMatMul(a, b), tf.matMul(a, b)));
      expect(d).toBeLessThan(1e-4);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([a, b]);
    }
  });

  it('is still exported from nn/attention (kept for compatibility)', () => {
    expect(fromAttention).toBe(batchedMatMul);
  });
});
