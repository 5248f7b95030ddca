/**
 * The native softmax cross-entropy kernel (token NLL, masks, ignore_index, gradients) against wasm.
 * Runs only where the native addon is built; test/backend/native.test.ts prints the suite's one line
 * when it is not (and fails under CI=true).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { crossEntropy, tokenNll } from '../../../src/train/losses.js';
import { activateNative } from '../../../src/backend/native.js';
import { nativeAvailable, onAndOff, maxAbsDiff, values } from './native-harness.js';

describe.skipIf(!nativeAvailable)('native softmax cross-entropy', () => {
  beforeAll(() => {
    activateNative({ enabled: true });
  });
  afterAll(() => {
    activateNative({ enabled: true });
  });

  it('cross-entropy and token NLL with a mask and ignore_index agree with wasm, gradients included', () => {
    const logits = tf.randomNormal([2, 5, 7], 0, 3, 'float32', 21);
    const targets = tf.tensor2d(
      [
        [1, 6, 0, -100, 3],
        [2, 2, 5, 4, 0],
      ],
      [2, 5],
      'int32',
    );
    const mask = tf.tensor2d(
      [
        [0, 0, 1, 0, 0],
        [0, 0, 0, 0, 1],
      ],
      [2, 5],
      'int32',
    );
    const { native, wasm } = onAndOff(() => {
      const nll = values(tokenNll(logits, targets, { mask }));
      const loss = values(crossEntropy(logits, targets, { mask }));
      const grad = values(tf.grad((l: Tensor) => crossEntropy(l, targets, { mask }))(logits));
      return { nll, loss, grad };
    });
    expect(maxAbsDiff(native.nll, wasm.nll)).toBeLessThan(1e-5);
    expect(native.nll[2]).toBe(0);
    expect(native.nll[3]).toBe(0);
    expect(maxAbsDiff(native.loss, wasm.loss)).toBeLessThan(1e-5);
    expect(maxAbsDiff(native.grad, wasm.grad)).toBeLessThan(1e-6);
    tf.dispose([logits, targets, mask]);
  });

  it('cross-entropy of one position, and of extreme logits, stays finite and agrees', () => {
    const logits = tf.tensor2d(
      [
        [1e4, -1e4, 0],
        [-50, 80, 80],
      ],
      [2, 3],
    );
    const targets = tf.tensor1d([1, 2], 'int32');
    const one = tf.tensor2d([[0.5, -0.5]], [1, 2]);
    const oneT = tf.tensor1d([0], 'int32');
    const { native, wasm } = onAndOff(() => [
      values(tokenNll(logits, targets)),
      values(tf.grad((l: Tensor) => crossEntropy(l, targets))(logits)),
      values(crossEntropy(one, oneT)),
    ]);
    native.forEach((x, i) => {
      expect(x.every(Number.isFinite)).toBe(true);
      expect(maxAbsDiff(x, wasm[i]!)).toBeLessThan(1e-2);
    });
    expect(native[0]![0]).toBeCloseTo(2e4, 0);
    tf.dispose([logits, targets, one, oneT]);
  });
});
