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
import { AdamW } from '../../../src/train/adamw.js';
import { crossEntropy, tokenNll } from '../../../src/train/losses.js';
import { maxAbsDiff, nativeAvailable, values } from './native-harness.js';

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

  const norms: Array<[string, number[]]> = [
    ['[B, T, D]', [3, 5, 16]],
    ['one row', [1, 7]],
    ['one feature (output is β)', [4, 1]],
    ['no rows', [0, 6]],
    ['a large offset mean', [2, 3, 32]],
  ];
  it.each(norms)('LayerNorm %s and its gradients agree with the tensor formula', (name, shape) => {
    const shift = name.includes('offset') ? 1000 : 0;
    const x = tf.add(tf.randomNormal(shape, 0, 2, 'float32', 15), shift);
    const f = shape.at(-1)!;
    const g = tf.randomNormal([f], 1, 0.5, 'float32', 16);
    const b = tf.randomNormal([f], 0, 0.5, 'float32', 17);
    const w = tf.randomNormal(shape, 0, 1, 'float32', 18);
    const { js, tfjs } = jsAndTfjs(() => {
      const y = values(layerNorm(x, g, b));
      const grads = tf.grads((xi: Tensor, gi: Tensor, bi: Tensor) =>
        tf.sum(tf.mul(layerNorm(xi, gi, bi), w)),
      )([x, g, b]);
      return { y, grads: grads.map(values) };
    });
    const tol = shift ? 2e-3 : 1e-4;
    expect(maxAbsDiff(js.y, tfjs.y)).toBeLessThan(tol);
    js.grads.forEach((gr, i) => expect(maxAbsDiff(gr, tfjs.grads[i]!)).toBeLessThan(shift ? 5e-2 : 2e-4));
    tf.dispose([x, g, b, w]);
  });

  it('LayerNorm with frozen γ and β: the input gradient agrees', () => {
    const x = tf.randomNormal([4, 8], 0, 1, 'float32', 19);
    const g = tf.variable(tf.randomNormal([8], 1, 0.3, 'float32', 20), false);
    const b = tf.variable(tf.zeros([8]), false);
    const { js, tfjs } = jsAndTfjs(() =>
      values(tf.grad((xi: Tensor) => tf.sum(tf.square(layerNorm(xi, g, b))))(x)),
    );
    expect(maxAbsDiff(js, tfjs)).toBeLessThan(1e-4);
    tf.dispose([x, g, b]);
  });

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
    const { js, tfjs } = jsAndTfjs(() => ({
      nll: values(tokenNll(logits, targets, { mask })),
      loss: values(crossEntropy(logits, targets, { mask })),
      grad: values(tf.grad((l: Tensor) => crossEntropy(l, targets, { mask }))(logits)),
    }));
    expect(maxAbsDiff(js.nll, tfjs.nll)).toBeLessThan(1e-5);
    expect(js.nll[2]).toBe(0);
    expect(js.nll[3]).toBe(0);
    expect(maxAbsDiff(js.loss, tfjs.loss)).toBeLessThan(1e-5);
    expect(maxAbsDiff(js.grad, tfjs.grad)).toBeLessThan(1e-6);
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
    const { js, tfjs } = jsAndTfjs(() => [
      values(tokenNll(logits, targets)),
      values(tf.grad((l: Tensor) => crossEntropy(l, targets))(logits)),
      values(crossEntropy(one, oneT)),
    ]);
    js.forEach((x, i) => {
      expect(x.every(Number.isFinite)).toBe(true);
      expect(maxAbsDiff(x, tfjs[i]!)).toBeLessThan(1e-2);
    });
    expect(js[0]![0]).toBeCloseTo(2e4, 0);
    tf.dispose([logits, targets, one, oneT]);
  });

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

  it('AdamW updates agree (weight decay, maximize, several steps)', () => {
    const run = () => {
      const p = tf.variable(tf.randomNormal([7, 5], 0, 1, 'float32', 10), true, `p${Math.random()}`);
      const opt = new AdamW([['p', p]], { lr: 0.01, weightDecay: 0.1, maximize: true });
      for (let s = 0; s < 4; s++) {
        const g = tf.randomNormal([7, 5], 0, 1, 'float32', 20 + s);
        opt.step({ p: g });
        g.dispose();
      }
      const st = opt.getState().params.p!;
      const out = [Array.from(p.dataSync()), Array.from(st.expAvg), Array.from(st.expAvgSq)];
      opt.dispose();
      p.dispose();
      return out;
    };
    const { js, tfjs } = jsAndTfjs(run);
    js.forEach((x, i) => expect(maxAbsDiff(x, tfjs[i]!)).toBeLessThan(1e-6));
  });

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
