/**
 * The native last-axis softmax and its gradient against tf.softmax.
 * Runs only where the native addon is built; test/backend/native.test.ts prints the suite's one line
 * when it is not (and fails under CI=true).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { softmaxLastAxis } from '../../../src/backend/kernels/softmax.js';
import { activateNative } from '../../../src/backend/native.js';
import { nativeAvailable, onAndOff, maxAbsDiff, values } from './native-harness.js';

describe.skipIf(!nativeAvailable)('native softmax', () => {
  beforeAll(() => {
    activateNative({ enabled: true });
  });
  afterAll(() => {
    activateNative({ enabled: true });
  });

  const softmaxes: Array<[string, number[]]> = [
    ['attention scores [B·H, T, T]', [6, 9, 9]],
    ['one row of one', [1, 1]],
    ['rank 1', [5]],
    ['no rows', [0, 4]],
  ];
  it.each(softmaxes)('softmax of %s and its gradient agree with tf.softmax', (_name, shape) => {
    const x = tf.randomNormal(shape, 0, 4, 'float32', 25);
    const w = tf.randomNormal(shape, 0, 1, 'float32', 26);
    const { native, wasm } = onAndOff(() => [
      values(softmaxLastAxis(x)),
      values(tf.grad((xi: Tensor) => tf.sum(tf.mul(softmaxLastAxis(xi), w)))(x)),
    ]);
    native.forEach((v, i) => expect(maxAbsDiff(v, wasm[i]!)).toBeLessThan(1e-6));
    tf.dispose([x, w]);
  });

  it('softmax of a masked row (−1e9 scores) puts no weight there and stays finite', () => {
    const x = tf.tensor2d(
      [
        [0, -1e9, 1, -1e9],
        [-1e9, -1e9, -1e9, -1e9],
      ],
      [2, 4],
    );
    const { native, wasm } = onAndOff(() => values(softmaxLastAxis(x)));
    expect(native.every(Number.isFinite)).toBe(true);
    expect(native[1]).toBe(0);
    expect(maxAbsDiff(native, wasm)).toBeLessThan(1e-6);
    x.dispose();
  });
});
