/**
 * The native Sum kernel (contiguous trailing or leading axes) against the wasm kernel; other axes go to the backend's own kernel.
 * Runs only where the native addon is built; test/backend/native.test.ts prints the suite's one line
 * when it is not (and fails under CI=true).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import { activateNative } from '../../../src/backend/native.js';
import { nativeAvailable, onAndOff, maxAbsDiff, values } from './native-harness.js';

describe.skipIf(!nativeAvailable)('native Sum', () => {
  beforeAll(() => {
    activateNative({ enabled: true });
  });
  afterAll(() => {
    activateNative({ enabled: true });
  });

  const sums: Array<[number[], number | number[], boolean]> = [
    [[6, 5, 4], [0, 1], false],
    [[6, 5, 4], [0, 1], true],
    [[6, 5, 4], 0, false],
    [[6, 5, 4], -1, true],
    [[6, 5, 4], [1, 2], false],
    [[6, 5, 4], [0, 1, 2], false],
    [[6, 5, 4], 1, false], // a middle axis: the backend's own kernel
    [[6, 5, 4], [0, 2], false], // not contiguous: the backend's own kernel
    [[1, 1000003], -1, false],
    [[3, 0], 0, false],
  ];
  it.each(sums)('Sum of %j over %j (keepDims %s) agrees with wasm', (shape, axis, keepDims) => {
    const x = tf.randomNormal(shape, 0, 1, 'float32', 9);
    const { native, wasm } = onAndOff(() => {
      const y = tf.sum(x, axis, keepDims);
      return { shape: y.shape, data: values(y) };
    });
    expect(native.shape).toEqual(wasm.shape);
    expect(maxAbsDiff(native.data, wasm.data)).toBeLessThan(shape[1]! > 1000 ? 2e-2 : 1e-4);
    x.dispose();
  });
});
