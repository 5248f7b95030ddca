/**
 * The native Transpose (two adjacent groups of axes exchanged) against the wasm backend's own
 * kernel: the permutations it takes, those it leaves to the backend, dtypes, empty tensors, gradients.
 * Runs only where the native addon is built; test/backend/native.test.ts prints the suite's one line
 * when it is not (and fails under CI=true).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { activateNative, nativeStatus } from '../../../src/backend/native.js';
import { swapAxesPlan } from '../../../src/backend/kernels/transpose.js';
import { nativeAvailable, onAndOff, values } from './native-harness.js';

describe('swapAxesPlan', () => {
  it('collapses a permutation that exchanges two adjacent axis groups', () => {
    expect(swapAxesPlan([16, 128, 4, 64], [0, 2, 1, 3])).toEqual([16, 128, 4, 64]);
    expect(swapAxesPlan([16, 128, 4, 64], [0, 2, 3, 1])).toEqual([16, 128, 256, 1]);
    expect(swapAxesPlan([16, 4, 64, 128], [0, 3, 1, 2])).toEqual([16, 256, 128, 1]);
    expect(swapAxesPlan([5, 7], [1, 0])).toEqual([1, 5, 7, 1]);
    expect(swapAxesPlan([2, 3, 4], [2, 0, 1])).toEqual([1, 6, 4, 1]);
  });

  it('declines the identity and permutations that are not one exchange', () => {
    expect(swapAxesPlan([2, 3, 4], [0, 1, 2])).toBeNull();
    expect(swapAxesPlan([2, 3, 4], [2, 1, 0])).toBeNull();
    expect(swapAxesPlan([2, 3, 4, 5], [1, 0, 3, 2])).toBeNull();
    expect(swapAxesPlan([2, 3, 4, 5], [0, 3, 2, 1])).toBeNull();
  });
});

describe.skipIf(!nativeAvailable)('native Transpose', () => {
  beforeAll(() => {
    activateNative({ enabled: true });
  });
  afterAll(() => {
    activateNative({ enabled: true });
  });

  it('is registered with the native kernels', () => {
    expect(nativeStatus().kernels).toContain('Transpose');
  });

  const cases: Array<[string, number[], number[]]> = [
    ['attention head split [0, 2, 1, 3]', [3, 10, 4, 16], [0, 2, 1, 3]],
    ['blocks of 8 values', [4, 6, 8], [1, 0, 2]],
    ['a rotation of three groups, blocks of 9', [3, 4, 5, 9], [2, 0, 1, 3]],
    ['key transpose [0, 2, 3, 1] (one value per block: left to the backend)', [2, 37, 3, 5], [0, 2, 3, 1]],
    ['2-D (left to the backend)', [33, 65], [1, 0]],
    ['reversed axes (left to the backend)', [3, 4, 5], [2, 1, 0]],
  ];
  it.each(cases)('%s agrees with the wasm kernel', (_name, shape, perm) => {
    const x = tf.randomNormal(shape, 0, 1, 'float32', 3);
    const { native, wasm } = onAndOff(() => {
      const y = tf.transpose(x, perm);
      return { shape: y.shape, v: values(y) };
    });
    expect(native.shape).toEqual(wasm.shape);
    expect(native.v).toEqual(wasm.v);
    x.dispose();
  });

  it("an empty tensor gets its permuted shape (the backend's own kernel divides by zero on it)", () => {
    const x = tf.zeros([0, 4, 5, 8]);
    const y = tf.transpose(x, [0, 2, 1, 3]);
    expect(y.shape).toEqual([0, 5, 4, 8]);
    expect(y.dataSync()).toHaveLength(0);
    tf.dispose([x, y]);
  });

  it('moves int32 values bit for bit and leaves bool to the backend', () => {
    const ints = tf.tensor4d(
      Array.from({ length: 32 }, (_, i) => (i % 2 ? 2147483647 - i : -2147483648 + i)),
      [1, 2, 2, 8],
      'int32',
    );
    const bools = tf.tensor2d([true, false, false, true, true, false], [2, 3], 'bool');
    const { native, wasm } = onAndOff(() => [
      Array.from(tf.transpose(ints, [0, 2, 1, 3]).dataSync()),
      Array.from(tf.transpose(bools, [1, 0]).dataSync()),
    ]);
    expect(native).toEqual(wasm);
    expect(native[0]!.slice(8, 10)).toEqual([-2147483648 + 16, 2147483647 - 17]);
    tf.dispose([ints, bools]);
  });

  it('its gradient (the inverse transpose) agrees', () => {
    const x = tf.randomNormal([2, 5, 3, 8], 0, 1, 'float32', 4);
    const w = tf.randomNormal([2, 3, 5, 8], 0, 1, 'float32', 5);
    const { native, wasm } = onAndOff(() =>
      values(tf.grad((xi: Tensor) => tf.sum(tf.mul(tf.transpose(xi, [0, 2, 1, 3]), w)))(x)),
    );
    expect(native).toEqual(wasm);
    tf.dispose([x, w]);
  });
});
