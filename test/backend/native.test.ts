/**
 * Native kernels (system BLAS through the Node addon) as a whole: the backend reports them, the
 * switches that turn them off, a few training steps of the bench model's architecture with and
 * without them, and tensor leaks. Each kernel against the wasm backend's own is tested beside it in
 * test/backend/kernels/<kernel>.test.ts. When the addon is not built these tests cannot run: outside
 * CI this file prints the suite's one loud line saying so (for the kernel files too) and how to enable
 * them; under CI (CI=true) that is a failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { getBackendInfo, initBackend } from '../../src/backend/backend.js';
import { activateNative, NATIVE_ENV_VAR } from '../../src/backend/native.js';
import { CharLM } from '../../src/models/char-lm.js';
import { manualSeed } from '../../src/rng.js';
import { AdamW } from '../../src/train/adamw.js';
import { crossEntropy } from '../../src/train/losses.js';
import {
  HOW_TO_ENABLE_NATIVE as HOW_TO_ENABLE,
  nativeAvailable as available,
  nativeProbe as probe,
  onAndOff,
} from './kernels/native-harness.js';

if (!available && process.env.CI !== 'true') {
  console.warn(
    `\n!!! NATIVE KERNEL TESTS DID NOT RUN (test/backend/native.test.ts and test/backend/kernels/*) (${probe.reason}); to enable them: ${HOW_TO_ENABLE} !!!\n`,
  );
}

describe('native kernels are available under CI', () => {
  it.runIf(process.env.CI === 'true')('the native module is built and finds a BLAS (CI=true)', () => {
    expect(probe.reason, `native kernels are required under CI; ${HOW_TO_ENABLE}`).toBe('');
    expect(available).toBe(true);
  });
});

describe.skipIf(!available)('native kernels', () => {
  beforeAll(() => {
    activateNative({ enabled: true });
  });
  afterAll(() => {
    activateNative({ enabled: true });
  });

  it('getBackendInfo reports the native path, the BLAS and its threads', () => {
    const info = getBackendInfo();
    expect(info.name).toBe('wasm');
    expect(info.native).toBe(true);
    expect(info.blas).toMatch(/blas/i);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(info.nativeReason).toBeNull();
  });

  it(`${NATIVE_ENV_VAR}=0 and initBackend({ native: false }) keep wasm and say why`, async () => {
    process.env[NATIVE_ENV_VAR] = '0';
    try {
      const info = await initBackend();
      expect(info.native).toBe(false);
      expect(info.nativeReason).toContain(`${NATIVE_ENV_VAR}=0`);
    } finally {
      delete process.env[NATIVE_ENV_VAR];
    }
    expect((await initBackend({ native: false })).native).toBe(false);
    const on = await initBackend({ threads: 1 });
    expect(on.native).toBe(true);
    expect(on.threads).toBe(1);
  });

  it('training the bench architecture (small) gives the same losses and weights with and without native kernels', () => {
    // Tolerance: float32 sums in a different order (BLAS blocking) differ by ~1e-6. Losses agree to
    // 1e-4 relative. Adam normalises each update (m/√v), so a weight whose gradient is near zero can
    // move by up to lr either way: weights agree to lr/3 at most and to 1e-5 for 99 % of them.
    const train = () => {
      manualSeed(5);
      const model = new CharLM({ vocabSize: 20, dModel: 32, numLayers: 2, nHead: 4, dFF: 64, maxLen: 16 });
      const ids = tf.randomUniform([3, 16], 0, 20, 'int32', 11);
      const targets = tf.randomUniform([3, 16], 0, 20, 'int32', 12);
      const named = model.namedParameters().filter(([, v]) => v.trainable);
      const opt = new AdamW(named, { lr: 3e-3 });
      const vars = named.map(([, v]) => v);
      const losses: number[] = [];
      for (let s = 0; s < 5; s++) {
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => crossEntropy(model.forward(ids), targets), vars);
          opt.step(grads);
          losses.push(value.dataSync()[0]!);
        });
      }
      const weights = vars.map((v) => Array.from(v.dataSync()));
      opt.dispose();
      model.dispose();
      tf.dispose([ids, targets]);
      return { losses, weights };
    };
    const { native, wasm } = onAndOff(train);
    expect(native.losses[4]!).toBeLessThan(native.losses[0]!);
    native.losses.forEach((l, i) =>
      expect(Math.abs(l - wasm.losses[i]!) / Math.abs(wasm.losses[i]!)).toBeLessThan(1e-4),
    );
    const diffs = native.weights
      .flatMap((w, i) => w.map((x, j) => Math.abs(x - wasm.weights[i]![j]!)))
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
    opt.dispose();
    model.dispose();
    tf.dispose([ids, targets]);
  });
});
