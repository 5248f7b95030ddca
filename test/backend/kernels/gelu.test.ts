/**
 * The native GELU kernel and its gradient against the tensor formula.
 * Runs only where the native addon is built; test/backend/native.test.ts prints the suite's one line
 * when it is not (and fails under CI=true).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { gelu } from '../../../src/nn/activations.js';
import { activateNative } from '../../../src/backend/native.js';
import { nativeAvailable, onAndOff, maxAbsDiff, values } from './native-harness.js';

describe.skipIf(!nativeAvailable)('native GELU', () => {
  beforeAll(() => {
    activateNative({ enabled: true });
  });
  afterAll(() => {
    activateNative({ enabled: true });
  });

  it('GELU agrees with the tensor formula, extremes included', () => {
    const x = tf.tensor1d([
      -40,
      -10,
      -5.5,
      -3,
      -1,
      -0.5,
      -1e-3,
      0,
      1e-3,
      0.5,
      1,
      3,
      5.5,
      10,
      40,
      ...Array.from({ length: 200 }, (_, i) => (i - 100) / 17),
      -100,
      100,
      -1e4,
      1e4,
    ]);
    const { native, wasm } = onAndOff(() => values(gelu(x)));
    expect(maxAbsDiff(native, wasm)).toBeLessThan(1e-5);
    expect(native[0]).toBeCloseTo(0, 6);
    expect(native[7]).toBe(0);
    expect(native[14]).toBeCloseTo(40, 5);
    x.dispose();
  });

  it('GELU gradient agrees with the tensor formula, extremes included', () => {
    const x = tf.concat([
      tf.randomNormal([64 * 33], 0, 2, 'float32', 8),
      tf.tensor1d([-1e4, -100, -40, -9.5, 0, 9.5, 40, 100, 1e4]),
    ]);
    const { native, wasm } = onAndOff(() => values(tf.grad((z: Tensor) => tf.sum(tf.mul(gelu(z), z)))(x)));
    expect(maxAbsDiff(native, wasm)).toBeLessThan(1e-5);
    x.dispose();
  });
});
