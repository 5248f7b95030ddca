import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { activateNative } from '../../../src/backend/native.js';
import { matMul } from '../../../src/backend/kernels/mat-mul.js';
import { maxAbsDiff } from '../../helpers.js';

/** Runs `f` on plain wasm, and with native kernels when they are built. */
function eachPath(f: () => void): void {
  const nativeBuilt = activateNative({ enabled: true }).active;
  try {
    for (const native of nativeBuilt ? [false, true] : [false]) {
      activateNative({ enabled: native });
      f();
    }
  } finally {
    activateNative({ enabled: nativeBuilt });
  }
}

describe('matMul (explicit-transpose gradient)', () => {
  it('value and both gradients equal the built-in matMul, rank 2 and batched', () => {
    eachPath(() => {
      for (const [sa, sb] of [
        [
          [5, 7],
          [7, 3],
        ],
        [
          [2, 5, 7],
          [2, 7, 3],
        ],
      ] as Array<[number[], number[]]>) {
        const a = tf.randomNormal(sa, 0, 1, 'float32', 1);
        const b = tf.randomNormal(sb, 0, 1, 'float32', 2);
        const dy = tf.randomNormal([...sa.slice(0, -1), sb[sb.length - 1]!], 0, 1, 'float32', 3);
        expect(maxAbsDiff(matMul(a, b), tf.matMul(a, b))).toBeLessThan(1e-5);
        const mine = tf.grads((x: Tensor, y: Tensor) => matMul(x, y))([a, b], dy);
        const ref = tf.grads((x: Tensor, y: Tensor) => tf.matMul(x, y))([a, b], dy);
        expect(maxAbsDiff(mine[0]!, ref[0]!)).toBeLessThan(1e-4);
        expect(maxAbsDiff(mine[1]!, ref[1]!)).toBeLessThan(1e-4);
      }
    });
  });
});
