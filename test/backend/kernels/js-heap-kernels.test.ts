/**
 * The JavaScript fused kernels on plain wasm against TensorFlow.js's own decompositions, forward and
 * gradient, every op (kept or not), with edge cases: empty dimensions, one row, extreme values and a
 * heap growth between calls. Runs with native kernels off; they are switched back on afterwards when
 * the addon is built.
 *
 * Tolerances: the JS kernels accumulate in double where TensorFlow.js sums float32 values (about
 * 1e-6 apart on these sizes); GELU's Φ is tabulated (absolute error ≤ 1.2e-7, as the erf formula
 * TensorFlow.js uses, so GELU values agree within |x|·3e-7).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { activateNative } from '../../../src/backend/native.js';
import { activateJsKernels } from '../../../src/backend/js-kernels.js';
import { registerHeapKernels, unregisterHeapKernels } from '../../../src/backend/fused-kernels.js';
import { HEAP_OPS } from '../../../src/backend/kernels/heap-kernels.js';
import { fastExp, jsHeapKernels } from '../../../src/backend/kernels/js-heap-kernels.js';
import { softmaxLastAxis } from '../../../src/backend/kernels/softmax.js';
import { gelu } from '../../../src/nn/activations.js';
import { layerNorm } from '../../../src/nn/layers.js';
import { crossEntropy } from '../../../src/train/losses.js';
import { maxAbsDiff, nativeAvailable, values } from './native-harness.js';
import { adamwCase, crossEntropyCases, layerNormCases, type FusedAndReference } from './fused-op-cases.js';

/** Runs `f` with every JavaScript fused kernel registered (inference included), then with none. */
function jsAndTfjs<T>(f: () => T): { js: T; tfjs: T } {
  registerHeapKernels(jsHeapKernels, 'js', HEAP_OPS);
  try {
    const js = f();
    unregisterHeapKernels();
    return { js, tfjs: f() };
  } finally {
    unregisterHeapKernels();
  }
}

/** {@link jsAndTfjs} as the shared cases take it. */
const jsRun: FusedAndReference = (f) => {
  const { js, tfjs } = jsAndTfjs(f);
  return { fused: js, reference: tfjs };
};

/** Grows the wasm heap by allocating (and freeing) a tensor larger than the heap is now. */
function growHeap(): void {
  const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
  const before = backend.wasm.HEAPU8.buffer.byteLength;
  const big = tf.zeros([Math.ceil(before / 4) + 1024]);
  expect(backend.wasm.HEAPU8.buffer.byteLength).toBeGreaterThan(before);
  big.dispose();
}

describe('JavaScript fused kernels on plain wasm', () => {
  beforeAll(() => {
    activateNative({ enabled: false });
    unregisterHeapKernels();
  });
  afterAll(() => {
    if (nativeAvailable) activateNative({ enabled: true });
    else activateJsKernels();
  });

  it('fastExp agrees with Math.exp within 1e-8 relative, and saturates', () => {
    for (let i = 0; i <= 4000; i++) {
      const x = -87 + (i / 4000) * 175;
      expect(Math.abs(fastExp(x) - Math.exp(x)) / Math.exp(x)).toBeLessThan(1e-8);
    }
    expect(fastExp(-1000)).toBe(0);
    expect(fastExp(1000)).toBe(Infinity);
    expect(fastExp(0)).toBe(1);
    expect(Number.isNaN(fastExp(NaN))).toBe(true);
  });

  it('GELU forward (inference and training) and gradient agree with the tensor formula, extremes included', () => {
    const x = tf.tensor1d([
      -40,
      -8.5,
      -8,
      -5.5,
      -1,
      -1e-3,
      0,
      1e-3,
      0.5,
      3,
      7.99,
      8,
      40,
      ...Array.from({ length: 300 }, (_, i) => (i - 150) / 19),
    ]);
    const { js, tfjs } = jsAndTfjs(() => ({
      y: values(gelu(x)),
      dx: values(tf.grad((z: Tensor) => tf.sum(tf.mul(gelu(z), z)))(x)),
      yTaped: values(tf.grad((z: Tensor) => tf.sum(gelu(z)))(x)),
    }));
    expect(maxAbsDiff(js.y, tfjs.y)).toBeLessThan(1e-5);
    expect(maxAbsDiff(js.dx, tfjs.dx)).toBeLessThan(2e-5);
    expect(maxAbsDiff(js.yTaped, tfjs.yTaped)).toBeLessThan(1e-5);
    expect(js.y[6]).toBe(0);
    expect(js.y[0]).toBeCloseTo(0, 6);
    expect(js.y[12]).toBeCloseTo(40, 5);
    x.dispose();
  });

  it('GELU of an empty tensor, and the standalone gradient kernel', () => {
    const empty = tf.zeros([0, 4]);
    const { js } = jsAndTfjs(() => gelu(empty).shape);
    expect(js).toEqual([0, 4]);
    const x = tf.randomNormal([33, 7], 0, 3, 'float32', 3);
    const dy = tf.randomNormal([33, 7], 0, 1, 'float32', 4);
    registerHeapKernels(jsHeapKernels, 'js', ['gelu']);
    const viaKernel = values(tf.engine().runKernel('AdapterkitGeluGrad', { x, dy }) as Tensor);
    unregisterHeapKernels();
    const viaTfjs = values(tf.grad((z: Tensor) => gelu(z))(x, dy));
    expect(maxAbsDiff(viaKernel, viaTfjs)).toBeLessThan(2e-5);
    tf.dispose([empty, x, dy]);
  });

  layerNormCases(jsRun);

  const sums: Array<[number[], number | number[], boolean]> = [
    [[6, 5, 4], [0, 1], false],
    [[6, 5, 4], [0, 1], true],
    [[6, 5, 4], 0, false],
    [[6, 5, 4], -1, true], // a trailing block: wasm's own kernel for the JS set
    [[6, 5, 4], [0, 1, 2], false],
    [[6, 5, 4], 1, false],
    [[1, 7], 0, false],
    [[3, 0], 0, false],
    [[0, 3], 0, false],
    [[2048, 64], 0, false],
  ];
  it.each(sums)('Sum of %j over %j (keepDims %s) agrees with wasm', (shape, axis, keepDims) => {
    const x = tf.randomNormal(shape, 0, 1, 'float32', 9);
    const { js, tfjs } = jsAndTfjs(() => {
      const y = tf.sum(x, axis, keepDims);
      return { shape: y.shape, data: values(y) };
    });
    expect(js.shape).toEqual(tfjs.shape);
    // Float32 sums of 2048 values round to about 2e-4 (the JS kernel sums in double).
    expect(maxAbsDiff(js.data, tfjs.data)).toBeLessThan(shape[0]! > 1000 ? 1e-3 : 1e-4);
    x.dispose();
  });

  it('the embedding gather copies rows (float32 and int32), reports a bad index, and handles no indices', () => {
    const table = tf.randomNormal([10, 6], 0, 1, 'float32', 5);
    const itable = tf.tensor2d(
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      [3, 2],
      'int32',
    );
    const ids = tf.tensor2d(
      [
        [3, 0, 9],
        [9, 9, 1],
      ],
      [2, 3],
      'int32',
    );
    const { js, tfjs } = jsAndTfjs(() => {
      const y = tf.gather(table, ids);
      return {
        shape: y.shape,
        data: values(y),
        ints: values(tf.gather(itable, tf.tensor1d([2, 0], 'int32'))),
      };
    });
    expect(js.shape).toEqual([2, 3, 6]);
    expect(js.data).toEqual(tfjs.data);
    expect(js.ints).toEqual([5, 6, 1, 2]);
    registerHeapKernels(jsHeapKernels, 'js', ['gather']);
    try {
      const before = tf.memory().numTensors;
      const bad = tf.tensor1d([1, 10], 'int32');
      expect(() => tf.gather(table, bad)).toThrow(/index value 10 is not in \[0, 9\]/);
      bad.dispose();
      expect(tf.memory().numTensors).toBe(before);
      const none = tf.tensor1d([], 'int32');
      expect(tf.gather(table, none).shape).toEqual([0, 6]);
      none.dispose();
    } finally {
      unregisterHeapKernels();
    }
    tf.dispose([table, itable, ids]);
  });

  crossEntropyCases(jsRun);

  it('softmax over the last axis and its gradient agree with tf.softmax', () => {
    for (const shape of [
      [2, 3, 5, 5],
      [1, 9],
      [4, 1],
    ]) {
      const x = tf.randomNormal(shape, 0, 3, 'float32', 22);
      const w = tf.randomNormal(shape, 0, 1, 'float32', 23);
      const { js, tfjs } = jsAndTfjs(() => [
        values(softmaxLastAxis(x)),
        values(tf.grad((xi: Tensor) => tf.sum(tf.mul(softmaxLastAxis(xi), w)))(x)),
      ]);
      js.forEach((v, i) => expect(maxAbsDiff(v, tfjs[i]!)).toBeLessThan(1e-6));
      tf.dispose([x, w]);
    }
  });

  adamwCase(jsRun);

  it('a kernel whose output allocation grows the heap writes into the grown heap', () => {
    const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
    const before = backend.wasm.HEAPU8.buffer.byteLength;
    const table = tf.tensor2d([Array.from({ length: 64 }, (_, i) => i + 0.5)], [1, 64]);
    const ids = tf.zeros([Math.ceil(before / 4 / 64) + 16], 'int32');
    registerHeapKernels(jsHeapKernels, 'js', ['gather']);
    try {
      const out = tf.gather(table, ids);
      expect(backend.wasm.HEAPU8.buffer.byteLength).toBeGreaterThan(before);
      const last = values(tf.slice(out, [ids.shape[0]! - 1, 0], [1, 64]));
      expect(last).toEqual(Array.from({ length: 64 }, (_, i) => i + 0.5));
      const total = values(tf.sum(out))[0]!;
      expect(Math.abs(total / (ids.shape[0]! * 2048) - 1)).toBeLessThan(1e-5);
      out.dispose();
    } finally {
      unregisterHeapKernels();
    }
    tf.dispose([table, ids]);
  });

  it('every kernel reads the heap afresh: the same results after the heap grows between calls', () => {
    const x = tf.randomNormal([3, 16, 24], 0, 2, 'float32', 30);
    const g = tf.randomNormal([24], 1, 0.2, 'float32', 31);
    const b = tf.randomNormal([24], 0, 0.2, 'float32', 32);
    const ids = tf.tensor1d([1, 2, 0, 2], 'int32');
    const logits = tf.randomNormal([4, 5], 0, 2, 'float32', 33);
    const targets = tf.tensor1d([4, 0, 1, 3], 'int32');
    const all = () => [
      values(tf.grad((z: Tensor) => tf.sum(gelu(z)))(x)),
      values(tf.grad((z: Tensor) => tf.sum(tf.square(layerNorm(z, g, b))))(x)),
      values(tf.sum(x, [0, 1])),
      values(tf.gather(x, ids)),
      values(tf.grad((l: Tensor) => crossEntropy(l, targets))(logits)),
      values(tf.grad((z: Tensor) => tf.sum(tf.square(softmaxLastAxis(z))))(x)),
    ];
    registerHeapKernels(jsHeapKernels, 'js', HEAP_OPS);
    try {
      const first = all();
      growHeap();
      const second = all();
      second.forEach((v, i) => expect(v).toEqual(first[i]));
    } finally {
      unregisterHeapKernels();
    }
    const reference = all();
    registerHeapKernels(jsHeapKernels, 'js', HEAP_OPS);
    growHeap();
    const afterGrowth = all();
    unregisterHeapKernels();
    afterGrowth.forEach((v, i) => expect(maxAbsDiff(v, reference[i]!)).toBeLessThan(1e-4));
    tf.dispose([x, g, b, ids, logits, targets]);
  });
});
