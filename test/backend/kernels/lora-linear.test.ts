/**
 * The fused native LoRA linear kernel (one kernel for `x·Wᵀ + bias + s·(x·Aᵀ)·Bᵀ` and one per
 * gradient) against the composed ops on wasm, and when LoraLinear uses it.
 * Runs only where the native addon is built; test/backend/native.test.ts prints the suite's one line
 * when it is not (and fails under CI=true).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { activateNative } from '../../../src/backend/native.js';
import { fusedLoraLinear, loraLinearFusable } from '../../../src/backend/kernels.js';
import { LoraLinear } from '../../../src/adapters/lora/layer.js';
import { PeftModel } from '../../../src/adapters/tuners/peft-model.js';
import { CharLM } from '../../../src/models/char-lm.js';
import { Linear } from '../../../src/nn/layers.js';
import { manualSeed } from '../../../src/rng.js';
import { AdamW } from '../../../src/train/adamw.js';
import { crossEntropy } from '../../../src/train/losses.js';
import { maxAbsDiff, nativeAvailable, onAndOff, values } from './native-harness.js';

/** The kernels one call of `f` launches, by name. */
async function kernelsOf(f: () => Tensor | Tensor[]): Promise<string[]> {
  const info = await tf.profile(() => f());
  return info.kernels.map((k) => k.name);
}

/** The composed formula, for reference. */
function composed(x: Tensor, w: Tensor, bias: Tensor | null, a: Tensor, b: Tensor, s: number): Tensor {
  const x2 = tf.reshape(x, [-1, w.shape[1]!]);
  let y = tf.add(
    tf.matMul(x2, w, false, true),
    tf.mul(tf.matMul(tf.matMul(x2, a, false, true), b, false, true), s),
  );
  if (bias) y = tf.add(y, bias);
  return tf.reshape(y, [...x.shape.slice(0, -1), w.shape[0]!]);
}

describe.skipIf(!nativeAvailable)('native fused LoRA linear', () => {
  beforeAll(() => {
    activateNative({ enabled: true });
  });
  afterAll(() => {
    activateNative({ enabled: true });
  });

  it('is registered with the native kernels and gone without them', () => {
    expect(loraLinearFusable()).toBe(true);
    activateNative({ enabled: false });
    expect(loraLinearFusable()).toBe(false);
    activateNative({ enabled: true });
    expect(loraLinearFusable()).toBe(true);
  });

  const shapes: Array<[string, number[], number, number, boolean]> = [
    ['[B, T, in] with a bias', [3, 5, 12], 7, 4, true],
    ['[rows, in] without a bias', [6, 12], 9, 2, false],
    ['one row, rank 1', [1, 12], 5, 1, true],
    ['no rows', [0, 12], 5, 3, true],
    ['rank above both widths', [4, 3], 2, 8, true],
    // The kernel builds W + s·B·A when rows·(in + out) ≥ in·out, else adds the low-rank product.
    ['many rows (one product with the merged weight)', [64, 16], 16, 4, true],
    ['few rows (the low-rank product added)', [2, 32], 32, 4, true],
  ];
  it.each(shapes)(
    '%s: output and the gradients of x, A and B match the composed ops',
    (_, xs, outF, r, withBias) => {
      const inF = xs.at(-1)!;
      const x = tf.randomNormal(xs, 0, 1, 'float32', 1);
      const w = tf.randomNormal([outF, inF], 0, 0.3, 'float32', 2);
      const bias = withBias ? tf.randomNormal([outF], 0, 0.3, 'float32', 3) : null;
      const a = tf.randomNormal([r, inF], 0, 0.3, 'float32', 4);
      const b = tf.randomNormal([outF, r], 0, 0.3, 'float32', 5);
      const probe = tf.randomNormal([...xs.slice(0, -1), outF], 0, 1, 'float32', 6);
      const s = 2.5;
      const run = (op: typeof composed) => ({
        y: values(op(x, w, bias, a, b, s)),
        grads: tf
          .grads((xi: Tensor, ai: Tensor, bi: Tensor) => tf.sum(tf.mul(op(xi, w, bias, ai, bi, s), probe)))([
            x,
            a,
            b,
          ])
          .map(values),
      });
      const fused = run(fusedLoraLinear);
      const reference = run(composed);
      expect(maxAbsDiff(fused.y, reference.y)).toBeLessThan(1e-5);
      fused.grads.forEach((g, i) => expect(maxAbsDiff(g, reference.grads[i]!)).toBeLessThan(1e-4));
      tf.dispose([x, w, a, b, probe, ...(bias ? [bias] : [])]);
    },
  );

  it('an output that grows the wasm heap is written to the new heap (no stale buffer)', () => {
    const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
    const before = backend.wasm.HEAPU8.buffer.byteLength;
    const outF = 2048;
    const rows = Math.ceil(before / 4 / outF) + 64; // the output alone is larger than the whole heap
    const x = tf.randomNormal([rows, 3], 0, 1, 'float32', 14);
    const w = tf.randomNormal([outF, 3], 0, 1, 'float32', 15);
    const a = tf.randomNormal([2, 3], 0, 1, 'float32', 16);
    const b = tf.randomNormal([outF, 2], 0, 1, 'float32', 17);
    const y = fusedLoraLinear(x, w, null, a, b, 0.5);
    expect(backend.wasm.HEAPU8.buffer.byteLength).toBeGreaterThan(before);
    const [xv, wv, av, bv, yv] = [x, w, a, b, y].map((t) => t.dataSync());
    for (const [i, j] of [
      [0, 0],
      [rows - 1, outF - 1],
      [Math.floor(rows / 2), 17],
    ] as const) {
      let want = 0;
      for (let k = 0; k < 3; k++) want += xv![i * 3 + k]! * wv![j * 3 + k]!;
      for (let q = 0; q < 2; q++) {
        let h = 0;
        for (let k = 0; k < 3; k++) h += xv![i * 3 + k]! * av![q * 3 + k]!;
        want += 0.5 * h * bv![j * 2 + q]!;
      }
      expect(yv![i * outF + j]).toBeCloseTo(want, 4);
    }
    tf.dispose([x, w, a, b, y]);
  });

  it('computes only the gradients the tape needs (no input gradient when only A and B train)', async () => {
    const x = tf.randomNormal([4, 8], 0, 1, 'float32', 7);
    const w = tf.randomNormal([6, 8], 0, 0.3, 'float32', 8);
    const a = tf.variable(tf.randomNormal([2, 8], 0, 0.3, 'float32', 9));
    const b = tf.variable(tf.randomNormal([6, 2], 0, 0.3, 'float32', 10));
    const names = await kernelsOf(() => {
      const { grads } = tf.variableGrads(() => tf.sum(fusedLoraLinear(x, w, null, a, b, 1)), [a, b]);
      return Object.values(grads);
    });
    expect(names.filter((n) => n === 'AdapterkitLoraLinear')).toHaveLength(1);
    expect(names.filter((n) => n === 'AdapterkitLoraLinearGrad')).toHaveLength(2);
    expect(names).not.toContain('BatchMatMul');
    tf.dispose([x, w, a, b]);
  });

  /** A LoraLinear over a frozen 16 → 10 Linear holding adapter 'a' (r 4, alpha 8) with B non-zero. */
  function loraLayer(opts: { dora?: boolean; dropout?: number; loraBias?: boolean } = {}): LoraLinear {
    manualSeed(3);
    const base = new Linear({ inFeatures: 16, outFeatures: 10 });
    base.freeze();
    const layer = new LoraLinear({ base });
    layer.updateLayer('a', {
      r: 4,
      loraAlpha: 8,
      initLoraWeights: false,
      useDora: opts.dora,
      loraDropout: opts.dropout,
      loraBias: opts.loraBias,
    });
    return layer;
  }

  it('LoraLinear runs one adapter as the fused kernel and gives what the composed ops give', async () => {
    const layer = loraLayer();
    const x = tf.randomNormal([2, 3, 16], 0, 1, 'float32', 11);
    expect(await kernelsOf(() => layer.forward(x))).toContain('AdapterkitLoraLinear');
    const params = [layer.lora_A.get('a')!.weight, layer.lora_B.get('a')!.weight];
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(layer.forward(x))), params);
        return [values(value), ...params.map((p) => values(grads[p.name]!))];
      });
    const { native, wasm } = onAndOff(step);
    native.forEach((v, i) => expect(maxAbsDiff(v, wasm[i]!)).toBeLessThan(1e-3));
    layer.dispose();
    x.dispose();
  });

  it('LoraLinear on the fused path refuses an input of the wrong width, naming the layer and the width', () => {
    const layer = loraLayer();
    const x = tf.zeros([2, 15]);
    expect(() => layer.forward(x)).toThrow(
      /LoraLinear: the input's last dimension must be 16, got shape \[2, 15\]/,
    );
    layer.dispose();
    x.dispose();
  });

  const fallbacks: Array<[string, () => LoraLinear]> = [
    ['DoRA', () => loraLayer({ dora: true })],
    ['a lora_B bias', () => loraLayer({ loraBias: true })],
    ['active dropout', () => loraLayer({ dropout: 0.1 }).train()],
    [
      'two running adapters',
      () => {
        const l = loraLayer();
        l.updateLayer('b', { r: 2, loraAlpha: 2 });
        return l;
      },
    ],
    [
      'a trainable base weight',
      () => {
        const l = loraLayer();
        l.baseLayer.unfreeze();
        return l;
      },
    ],
  ];
  it.each(fallbacks)('LoraLinear with %s composes its ops instead', async (_, make) => {
    const layer = make();
    const x = tf.randomNormal([3, 16], 0, 1, 'float32', 12);
    expect(await kernelsOf(() => layer.forward(x))).not.toContain('AdapterkitLoraLinear');
    layer.dispose();
    x.dispose();
  });

  it('LoRA training of the bench architecture (small) gives the same losses and weights fused and composed', () => {
    const train = () => {
      manualSeed(5);
      const base = new CharLM({ vocabSize: 20, dModel: 32, numLayers: 2, nHead: 4, dFF: 64, maxLen: 16 });
      const model = PeftModel.wrap(base, {
        type: 'lora',
        r: 4,
        loraAlpha: 8,
        targetModules: ['q_proj', 'v_proj', 'fc1', 'lm_head'],
      });
      model.train();
      const ids = tf.randomUniform([3, 16], 0, 20, 'int32', 11);
      const targets = tf.randomUniform([3, 16], 0, 20, 'int32', 12);
      const named = model.namedParameters().filter(([, v]) => v.trainable);
      const opt = new AdamW(named, { lr: 1e-2 });
      const vars = named.map(([, v]) => v);
      const losses: number[] = [];
      for (let s = 0; s < 5; s++) {
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(
            () => crossEntropy(model.forward(ids) as Tensor, targets),
            vars,
          );
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
      expect(Math.abs(l - wasm.losses[i]!) / wasm.losses[i]!).toBeLessThan(1e-4),
    );
    const diffs = native.weights.flatMap((w, i) => w.map((x, j) => Math.abs(x - wasm.weights[i]![j]!)));
    expect(Math.max(...diffs)).toBeLessThan(1e-2 / 3);
  });

  it('no tensor leaks over 500 fused LoRA training steps', () => {
    const layer = loraLayer();
    const x = tf.randomNormal([2, 16], 0, 1, 'float32', 13);
    const params = [layer.lora_A.get('a')!.weight, layer.lora_B.get('a')!.weight];
    const opt = new AdamW(params, { lr: 1e-3 });
    const step = () =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => tf.sum(tf.square(layer.forward(x))), params);
        opt.step(grads);
      });
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 500; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    layer.dispose();
    x.dispose();
  });
});
