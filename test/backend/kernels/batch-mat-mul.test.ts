/**
 * BatchMatMul (system BLAS sgemm) against the wasm backend's own kernel: every matMul form, operands at offsets into shared heap data, heap growth, gradients.
 * Runs only where the native addon is built; test/backend/native.test.ts prints the suite's one line
 * when it is not (and fails under CI=true).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { activateNative } from '../../../src/backend/native.js';
import { nativeAvailable, onAndOff, maxAbsDiff, values } from './native-harness.js';

describe.skipIf(!nativeAvailable)('native BatchMatMul', () => {
  beforeAll(() => {
    activateNative({ enabled: true });
  });
  afterAll(() => {
    activateNative({ enabled: true });
  });

  const forms: Array<[string, number[], number[], boolean, boolean]> = [
    ['2-D', [5, 7], [7, 3], false, false],
    ['2-D transposeA', [7, 5], [7, 3], true, false],
    ['2-D transposeB', [5, 7], [3, 7], false, true],
    ['2-D both transposed', [7, 5], [3, 7], true, true],
    ['batched', [4, 5, 7], [4, 7, 3], false, false],
    ['batched, both transposed', [4, 7, 5], [4, 3, 7], true, true],
    ['batched × shared 2-D (folded into one product)', [4, 5, 7], [7, 3], false, false],
    ['batched transposeA × shared 2-D', [4, 7, 5], [7, 3], true, false],
    ['batch of 1 broadcast over the left operand', [1, 5, 7], [4, 7, 3], false, false],
    ['rank 4', [2, 3, 5, 7], [2, 3, 7, 6], false, false],
    ['general batch broadcast (backend fallback)', [2, 1, 5, 7], [1, 3, 7, 6], false, false],
    ['batch 1, single row', [1, 1, 9], [1, 9, 1], false, false],
    ['empty rows', [0, 7], [7, 3], false, false],
    ['empty inner dimension gives zeros', [5, 0], [0, 3], false, false],
    ['empty batch', [0, 5, 7], [0, 7, 3], false, false],
  ];
  it.each(forms)('matMul %s agrees with the wasm kernel', (_name, sa, sb, ta, tb) => {
    const a = tf.randomNormal(sa, 0, 1, 'float32', 1);
    const b = tf.randomNormal(sb, 0, 1, 'float32', 2);
    const { native, wasm } = onAndOff(() => {
      const y = tf.matMul(a, b, ta, tb);
      return { shape: y.shape, data: values(y) };
    });
    expect(native.shape).toEqual(wasm.shape);
    if (sa.includes(0) && !native.shape.includes(0)) expect(native.data.every((x) => x === 0)).toBe(true);
    else expect(maxAbsDiff(native.data, wasm.data)).toBeLessThan(1e-5);
    tf.dispose([a, b]);
  });

  it('matMul of operands made by reshapes and transposes (offsets into shared heap data)', () => {
    const x = tf.randomNormal([6, 8, 4], 0, 1, 'float32', 3);
    const { native, wasm } = onAndOff(() =>
      tf.tidy(() => {
        const a = tf.reshape(tf.transpose(x, [1, 0, 2]), [8, 24]);
        const b = tf.reshape(x, [24, 8]);
        const c = tf.matMul(tf.slice(a, [2, 0], [3, 24]), b);
        return values(tf.matMul(tf.reshape(c, [3, 2, 4]), tf.reshape(c, [3, 4, 2])));
      }),
    );
    expect(maxAbsDiff(native, wasm)).toBeLessThan(1e-4);
    x.dispose();
  });

  it('matMul whose output grows the wasm heap reads the new heap (no stale buffer)', () => {
    const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
    const before = backend.wasm.HEAPU8.buffer.byteLength;
    const n = 2048;
    const m = Math.ceil(before / 4 / n) + 64; // the output alone is larger than the whole heap
    const a = tf.randomNormal([m, 3], 0, 1, 'float32', 4);
    const b = tf.randomNormal([3, n], 0, 1, 'float32', 5);
    const y = tf.matMul(a, b);
    expect(backend.wasm.HEAPU8.buffer.byteLength).toBeGreaterThan(before);
    const [av, bv, yv] = [a.dataSync(), b.dataSync(), y.dataSync()];
    for (const [i, j] of [
      [0, 0],
      [m - 1, n - 1],
      [Math.floor(m / 2), 17],
      [m - 1, 0],
    ] as const) {
      const ref = av[i * 3]! * bv[j]! + av[i * 3 + 1]! * bv[n + j]! + av[i * 3 + 2]! * bv[2 * n + j]!;
      expect(Math.abs(yv[i * n + j]! - ref)).toBeLessThan(1e-4);
    }
    tf.dispose([a, b, y]);
  });

  it('matMul gradients (the flags the library passes natively) agree with wasm', () => {
    const a = tf.randomNormal([3, 4, 5], 0, 1, 'float32', 6);
    const b = tf.randomNormal([3, 5, 2], 0, 1, 'float32', 7);
    const { native, wasm } = onAndOff(() =>
      tf
        .grads((x: Tensor, y: Tensor) => tf.sum(tf.square(tf.matMul(x, y))))([a, b])
        .map(values),
    );
    native.forEach((g, i) => expect(maxAbsDiff(g, wasm[i]!)).toBeLessThan(1e-4));
    tf.dispose([a, b]);
  });
});
