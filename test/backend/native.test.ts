/**
 * Native kernels (system BLAS through the Node addon) against the wasm backend's own kernels: every
 * matMul form, GELU, Sum, AdamW, GatherV2, LayerNorm, softmax cross-entropy, a few training steps of the bench model's architecture, edge cases
 * and tensor leaks. When the addon is not built these tests cannot run: outside CI one loud line says
 * so and how to enable them; under CI (CI=true) that is a failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import { getBackendInfo, initBackend } from '../../src/backend/backend.js';
import { activateNative, NATIVE_ENV_VAR } from '../../src/backend/native.js';
import '../../src/index.js';
import { gelu } from '../../src/nn/activations.js';
import { CharLM } from '../../src/models/char-lm.js';
import { manualSeed } from '../../src/rng.js';
import { AdamW } from '../../src/train/adamw.js';
import { crossEntropy, tokenNll } from '../../src/train/losses.js';
import { layerNorm } from '../../src/nn/layers.js';
import { softmaxLastAxis } from '../../src/backend/kernels/softmax.js';

const probe = activateNative({ enabled: true });
const available = probe.active;
const HOW_TO_ENABLE =
  'install a C compiler and OpenBLAS (apt-get install build-essential python3 libopenblas0-pthread), then `npm rebuild adapterkit` (or `npm run build:native`)';
if (!available && process.env.CI !== 'true') {
  console.warn(
    `\n!!! NATIVE KERNEL TESTS DID NOT RUN (${probe.reason}); to enable them: ${HOW_TO_ENABLE} !!!\n`,
  );
}

/** Runs `f` with native kernels on and then off; returns both results as plain arrays. */
function onAndOff<T>(f: () => T): { native: T; wasm: T } {
  activateNative({ enabled: true });
  const native = f();
  activateNative({ enabled: false });
  const wasm = f();
  activateNative({ enabled: true });
  return { native, wasm };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

const values = (t: Tensor) => {
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
};

describe('native kernels are available under CI', () => {
  it.runIf(process.env.CI === 'true')('the native module is built and finds a BLAS (CI=true)', () => {
    expect(probe.reason, `native kernels are required under CI; ${HOW_TO_ENABLE}`).toBe('');
    expect(available).toBe(true);
  });
});

describe.skipIf(!available)('native kernels', () => {
  beforeAll(() => {
    activateNative({ enabled: true });
  });
  afterAll(() => {
    activateNative({ enabled: true });
  });

  it('getBackendInfo reports the native path, the BLAS and its threads', () => {
    const info = getBackendInfo();
    expect(info.name).toBe('wasm');
    expect(info.native).toBe(true);
    expect(info.blas).toMatch(/blas/i);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(info.nativeReason).toBeNull();
  });

  it(`${NATIVE_ENV_VAR}=0 and initBackend({ native: false }) keep wasm and say why`, async () => {
    process.env[NATIVE_ENV_VAR] = '0';
    try {
      const info = await initBackend();
      expect(info.native).toBe(false);
      expect(info.nativeReason).toContain(`${NATIVE_ENV_VAR}=0`);
    } finally {
      delete process.env[NATIVE_ENV_VAR];
    }
    expect((await initBackend({ native: false })).native).toBe(false);
    const on = await initBackend({ threads: 1 });
    expect(on.native).toBe(true);
    expect(on.threads).toBe(1);
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
    ]);
    const { native, wasm } = onAndOff(() => values(gelu(x)));
    expect(maxAbsDiff(native, wasm)).toBeLessThan(1e-5);
    expect(native[0]).toBeCloseTo(0, 6);
    expect(native[7]).toBe(0);
    expect(native[14]).toBeCloseTo(40, 5);
    x.dispose();
  });

  it('GELU gradient agrees with the tensor formula', () => {
    const x = tf.randomNormal([64, 33], 0, 2, 'float32', 8);
    const { native, wasm } = onAndOff(() => values(tf.grad((z: Tensor) => tf.sum(tf.mul(gelu(z), z)))(x)));
    expect(maxAbsDiff(native, wasm)).toBeLessThan(1e-5);
    x.dispose();
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
    const { native, wasm } = onAndOff(run);
    native.forEach((x, i) => expect(maxAbsDiff(x, wasm[i]!)).toBeLessThan(1e-6));
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
    const { native, wasm } = onAndOff(() => {
      const y = values(layerNorm(x, g, b));
      const grads = tf.grads((xi: Tensor, gi: Tensor, bi: Tensor) =>
        tf.sum(tf.mul(layerNorm(xi, gi, bi), w)),
      )([x, g, b]);
      return { y, grads: grads.map(values) };
    });
    const tol = shift ? 2e-3 : 1e-4;
    expect(maxAbsDiff(native.y, wasm.y)).toBeLessThan(tol);
    native.grads.forEach((gr, i) => expect(maxAbsDiff(gr, wasm.grads[i]!)).toBeLessThan(shift ? 5e-2 : 2e-4));
    tf.dispose([x, g, b, w]);
  });

  it('LayerNorm with frozen γ and β: the input gradient is unchanged', () => {
    const x = tf.randomNormal([4, 8], 0, 1, 'float32', 19);
    const g = tf.variable(tf.randomNormal([8], 1, 0.3, 'float32', 20), false);
    const b = tf.variable(tf.zeros([8]), false);
    const { native, wasm } = onAndOff(() =>
      values(tf.grad((xi: Tensor) => tf.sum(tf.square(layerNorm(xi, g, b))))(x)),
    );
    expect(maxAbsDiff(native, wasm)).toBeLessThan(1e-4);
    tf.dispose([x, g, b]);
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

  it('training the bench architecture (small) gives the same losses and weights with and without native kernels', () => {
    // Tolerance: float32 sums in a different order (BLAS blocking) differ by ~1e-6. Losses agree to
    // 1e-4 relative. Adam normalises each update (m/√v), so a weight whose gradient is near zero can
    // move by up to lr either way: weights agree to lr/3 at most and to 1e-5 for 99 % of them.
    const train = () => {
      manualSeed(5);
      const model = new CharLM({ vocabSize: 20, dModel: 32, numLayers: 2, nHead: 4, dFF: 64, maxLen: 16 });
      const ids = tf.randomUniform([3, 16], 0, 20, 'int32', 11);
      const targets = tf.randomUniform([3, 16], 0, 20, 'int32', 12);
      const named = model.namedParameters().filter(([, v]) => v.trainable);
      const opt = new AdamW(named, { lr: 3e-3 });
      const vars = named.map(([, v]) => v);
      const losses: number[] = [];
      for (let s = 0; s < 5; s++) {
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => crossEntropy(model.forward(ids), targets), vars);
          opt.step(grads);
          losses.push(value.dataSync()[0]!);
        });
      }
      const weights = vars.map((v) => Array.from(v.dataSync()));
      opt.dispose();
      model.dispose();
      tf.dispose([ids, targets]);
      return { losses, weights };
    };
    const { native, wasm } = onAndOff(train);
    expect(native.losses[4]!).toBeLessThan(native.losses[0]!);
    native.losses.forEach((l, i) =>
      expect(Math.abs(l - wasm.losses[i]!) / Math.abs(wasm.losses[i]!)).toBeLessThan(1e-4),
    );
    const diffs = native.weights
      .flatMap((w, i) => w.map((x, j) => Math.abs(x - wasm.weights[i]![j]!)))
      .sort((a, b) => a - b);
    expect(diffs.at(-1)!).toBeLessThan(3e-3 / 3);
    expect(diffs[Math.floor(diffs.length * 0.99)]!).toBeLessThan(1e-5);
  });

  it('no tensor leaks over 500 training steps of a tiny model', () => {
    manualSeed(6);
    const model = new CharLM({ vocabSize: 8, dModel: 8, numLayers: 1, nHead: 2, dFF: 16, maxLen: 4 });
    const ids = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32');
    const targets = tf.tensor2d([[2, 3, 4, 5]], [1, 4], 'int32');
    const named = model.namedParameters().filter(([, v]) => v.trainable);
    const opt = new AdamW(named, { lr: 1e-3 });
    const vars = named.map(([, v]) => v);
    const step = () =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => crossEntropy(model.forward(ids), targets), vars);
        opt.step(grads);
      });
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 500; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    model.dispose();
    tf.dispose([ids, targets]);
  });
});
