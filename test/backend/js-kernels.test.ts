/**
 * The JavaScript fused kernels as the library uses them without the native addon: which are kept,
 * how they are turned off, that native kernels win, what getBackendInfo says, a few training steps
 * of the bench model's architecture (small) with and without them, and tensor leaks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { getBackendInfo, initBackend } from '../../src/backend/backend.js';
import { activateNative, NATIVE_ENV_VAR } from '../../src/backend/native.js';
import {
  activateJsKernels,
  JS_KERNEL_OPS,
  JS_KERNELS_ENV_VAR,
  JS_TRAINING_ONLY_OPS,
} from '../../src/backend/js-kernels.js';
import { activeHeapKernels } from '../../src/backend/kernels/heap-kernels.js';
import { CharLM } from '../../src/models/char-lm.js';
import { manualSeed } from '../../src/rng.js';
import { AdamW } from '../../src/train/adamw.js';
import { crossEntropy } from '../../src/train/losses.js';
import { nativeAvailable } from './kernels/native-harness.js';

/** Runs `f` with the kept JavaScript kernels on, then off (native kernels off throughout). */
function jsOnOff<T>(f: () => T): { js: T; tfjs: T } {
  activateJsKernels({ enabled: true });
  const js = f();
  activateJsKernels({ enabled: false });
  const tfjs = f();
  activateJsKernels({ enabled: true });
  return { js, tfjs };
}

describe('JavaScript kernels without the native addon', () => {
  beforeAll(() => {
    activateNative({ enabled: false });
    activateJsKernels({ enabled: true });
  });
  afterAll(async () => {
    await initBackend();
  });

  it('registers the kept ops and getBackendInfo reports them', () => {
    expect(activeHeapKernels()).toEqual({
      provider: 'js',
      ops: [...JS_KERNEL_OPS],
      trainingOnly: [...JS_TRAINING_ONLY_OPS],
    });
    const info = getBackendInfo();
    expect(info.native).toBe(false);
    expect(info.kernels).toBe('js');
    expect(info.fusedOps).toEqual([...JS_KERNEL_OPS]);
  });

  it(`${JS_KERNELS_ENV_VAR}=0 and initBackend({ jsKernels: false }) keep TensorFlow.js's kernels`, async () => {
    process.env[JS_KERNELS_ENV_VAR] = '0';
    process.env[NATIVE_ENV_VAR] = '0';
    try {
      const info = await initBackend();
      expect(info.native).toBe(false);
      expect(info.kernels).toBe('tfjs');
      expect(info.fusedOps).toEqual([]);
    } finally {
      delete process.env[JS_KERNELS_ENV_VAR];
      delete process.env[NATIVE_ENV_VAR];
    }
    expect((await initBackend({ native: false, jsKernels: false })).kernels).toBe('tfjs');
    const on = await initBackend({ native: false });
    expect(on.kernels).toBe('js');
  });

  it.runIf(nativeAvailable)('native kernels win over the JavaScript ones', async () => {
    const info = await initBackend();
    expect(info.kernels).toBe('native');
    expect(activateJsKernels({ enabled: true })).toEqual([]);
    expect(activeHeapKernels().provider).toBe('native');
    activateNative({ enabled: false });
    expect(activeHeapKernels().provider).toBe(null);
    activateJsKernels({ enabled: true });
  });

  it('training the bench architecture (small) gives the same losses and weights with and without JS kernels', () => {
    // Tolerance as for the native kernels: sums in another order (and in double) differ by ~1e-6;
    // losses agree to 1e-4 relative; Adam normalises each update (m/√v), so a weight whose gradient
    // is near zero can move by up to lr either way: weights agree to lr/3 at most, 1e-5 for 99 %.
    const train = () => {
      manualSeed(5);
      const model = new CharLM({ vocabSize: 20, dModel: 32, numLayers: 2, nHead: 4, dFF: 64, maxLen: 16 });
      const ids = tf.randomUniform([3, 16], 0, 20, 'int32', 11);
      const targets = tf.randomUniform([3, 16], 0, 20, 'int32', 12);
      const named = model.namedParameters().filter(([, v]) => v.trainable);
      const opt = new AdamW(named, { lr: 3e-3, weightDecay: 0.01 });
      const vars = named.map(([, v]) => v);
      const losses: number[] = [];
      for (let s = 0; s < 5; s++) {
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => crossEntropy(model.forward(ids), targets), vars);
          opt.step(grads);
          losses.push(value.dataSync()[0]!);
        });
      }
      const evalLoss = tf.tidy(() => crossEntropy(model.eval().forward(ids), targets).dataSync()[0]!);
      const weights = vars.map((v) => Array.from(v.dataSync()));
      opt.dispose();
      model.dispose();
      tf.dispose([ids, targets]);
      return { losses, evalLoss, weights };
    };
    const { js, tfjs } = jsOnOff(train);
    expect(js.losses[4]!).toBeLessThan(js.losses[0]!);
    js.losses.forEach((l, i) =>
      expect(Math.abs(l - tfjs.losses[i]!) / Math.abs(tfjs.losses[i]!)).toBeLessThan(1e-4),
    );
    expect(Math.abs(js.evalLoss - tfjs.evalLoss) / tfjs.evalLoss).toBeLessThan(1e-4);
    const diffs = js.weights
      .flatMap((w, i) => w.map((x, j) => Math.abs(x - tfjs.weights[i]![j]!)))
      .sort((a, b) => a - b);
    expect(diffs.at(-1)!).toBeLessThan(3e-3 / 3);
    expect(diffs[Math.floor(diffs.length * 0.99)]!).toBeLessThan(1e-5);
  });

  it('no tensor leaks over 500 training steps of a tiny model', () => {
    manualSeed(6);
    const model = new CharLM({ vocabSize: 8, dModel: 8, numLayers: 1, nHead: 2, dFF: 16, maxLen: 4 });
    const ids = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32');
    const targets = tf.tensor2d([[2, 3, 4, 5]], [1, 4], 'int32');
    const named = model.namedParameters().filter(([, v]) => v.trainable);
    const opt = new AdamW(named, { lr: 1e-3 });
    const vars = named.map(([, v]) => v);
    const step = () =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => crossEntropy(model.forward(ids), targets), vars);
        opt.step(grads);
      });
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 500; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    expect(activeHeapKernels().provider).toBe('js');
    opt.dispose();
    model.dispose();
    tf.dispose([ids, targets]);
  });
});
