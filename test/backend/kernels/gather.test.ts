/**
 * The native GatherV2 kernel (axis 0) against the wasm kernel; other axes go to the backend's own kernel.
 * Runs only where the native addon is built; test/backend/native.test.ts prints the suite's one line
 * when it is not (and fails under CI=true).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import { activateNative } from '../../../src/backend/native.js';
import { nativeAvailable, onAndOff, values } from './native-harness.js';

describe.skipIf(!nativeAvailable)('native GatherV2', () => {
  beforeAll(() => {
    activateNative({ enabled: true });
  });
  afterAll(() => {
    activateNative({ enabled: true });
  });

  const gathers: Array<[string, number[], number[], number[], 'float32' | 'int32']> = [
    ['embedding rows', [10, 4], [2, 3], [0, 9, 3, 3, 1, 0], 'float32'],
    ['batch 1, one index', [5, 3], [1], [4], 'float32'],
    ['int32 table of rank 3', [4, 2, 3], [5], [3, 0, 0, 2, 1], 'int32'],
    ['no indices', [4, 3], [0], [], 'float32'],
    ['empty rows', [4, 0], [2], [1, 2], 'float32'],
  ];
  it.each(gathers)('GatherV2 %s agrees with wasm', (_name, shape, idxShape, idx, dtype) => {
    const x = tf.cast(tf.randomNormal(shape, 0, 10, 'float32', 13), dtype);
    const i = tf.tensor(idx, idxShape, 'int32');
    const { native, wasm } = onAndOff(() => {
      const y = tf.gather(x, i);
      return { shape: y.shape, dtype: y.dtype, data: values(y) };
    });
    expect(native.shape).toEqual([...idxShape, ...shape.slice(1)]);
    // wasm's own kernel returns its internal 4-D shape for an empty table; values and dtype agree.
    expect({ ...native, shape: null }).toEqual({ ...wasm, shape: null });
    tf.dispose([x, i]);
  });

  it('GatherV2 along another axis goes to the backend kernel; an index outside the table is an error', () => {
    const x = tf.randomNormal([3, 5], 0, 1, 'float32', 14);
    const i = tf.tensor1d([4, 0], 'int32');
    const { native, wasm } = onAndOff(() => values(tf.gather(x, i, 1)));
    expect(native).toEqual(wasm);
    const bad = tf.tensor1d([1, 3], 'int32');
    const before = tf.memory().numTensors;
    expect(() => tf.gather(x, bad)).toThrow(/index value 3 is not in \[0, 2\]/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, i, bad]);
  });
});
