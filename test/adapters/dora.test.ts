/** SPEC §4.8 DoRA (B-263 … B-266). */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import { LoraLinear, PeftModel, type LoraConfig } from '../../src/adapters/index.js';
import { Linear } from '../../src/nn/layers.js';
import { Holder, TinyLM, makeInput, randomize, seed } from '../fixtures/lora-models.js';
import { expectClose, maxAbsDiff, thrown, values } from '../helpers.js';

const lora = (extra: Partial<LoraConfig> = {}): LoraConfig => ({ type: 'lora', ...extra });

/** Row norms of `w [out, in]`. */
const rowNorms = (w: Tensor) => tf.tidy(() => tf.sqrt(tf.sum(tf.square(w), 1)));

function doraLayer(opts: { bias?: boolean } = {}) {
  seed();
  const lin = new Linear({ inFeatures: 6, outFeatures: 4, bias: opts.bias ?? true });
  const model = new Holder({ lin });
  model.eval();
  const x = makeInput(5, 6);
  const y0 = lin.forward(x);
  const peft = PeftModel.wrap(model, lora({ targetModules: ['lin'], r: 2, loraAlpha: 3, useDora: true }));
  const w = model.getSubmodule('lin') as LoraLinear;
  return {
    model,
    lin,
    x,
    y0,
    peft,
    w,
    A: w.lora_A.get('default')!.weight,
    B: w.lora_B.get('default')!.weight,
    m: w.lora_magnitude_vector.get('default')!,
  };
}

describe('§4.8 DoRA', () => {
  it('B-263 DoRA with default init: outputs equal the base exactly; the magnitude equals the row norms of W within 1e-6', () => {
    const { peft, x, y0, m, lin, model } = doraLayer();
    expect(values(peft.forward(x))).toEqual(values(y0));
    expect(m.shape).toEqual([4]);
    expectClose(m, rowNorms(lin.weight), 1e-6);
    expect(model.stateDict().has('lin.lora_magnitude_vector.default')).toBe(true);
  });

  it('B-264 non-zero lora_B and m: the §4.1 formula within 1e-5; gradients for m, A and B equal those of a stop-gradient Wn', () => {
    const { peft, x, w, A, B, m, lin } = doraLayer();
    randomize(B, 1);
    randomize(m, 2, 0.3);
    const s = 1.5;
    const W = lin.weight;
    const bias = lin.bias!;
    const formula = (mm: Tensor, AA: Tensor, BB: Tensor, wn: Tensor) =>
      tf.tidy(() => {
        const base = tf.add(tf.matMul(x, W, false, true), bias);
        const lora = tf.mul(tf.matMul(tf.matMul(x, AA, false, true), BB, false, true), s);
        const f = tf.div(mm, wn);
        return tf.add(tf.add(base, tf.mul(tf.sub(f, 1), tf.sub(base, bias))), tf.mul(f, lora));
      });
    const wnConst = tf.tidy(() => rowNorms(tf.add(W, tf.mul(tf.matMul(B, A), s))));
    expectClose(peft.forward(x), formula(m, A, B, wnConst), 1e-5);
    peft.train();
    const target = makeInput(5, 4, 9);
    const loss = (y: Tensor) => tf.sum(tf.square(tf.sub(y, target))) as tf.Scalar;
    const ours = tf.variableGrads(() => loss(peft.forward(x) as Tensor), [m, A, B]);
    const ref = tf.variableGrads(() => loss(formula(m, A, B, wnConst)), [m, A, B]);
    for (const v of [m, A, B]) {
      const g = ours.grads[v.name]!;
      expect(maxAbsDiff(g, tf.zerosLike(g)), v.name).toBeGreaterThan(1e-4);
      expectClose(g, ref.grads[v.name]!, 1e-4);
    }
    expect(Object.keys(ours.grads).sort()).toEqual([m.name, A.name, B.name].sort());
    void w;
  });

  it('B-265 DoRA merge: merged equals unmerged within 1e-5; the base bias is bitwise unchanged; unmerge restores W', () => {
    const { peft, x, A, B, m, lin } = doraLayer();
    randomize(A, 3);
    randomize(B, 4);
    randomize(m, 5, 0.4);
    const y = peft.forward(x);
    const W0 = lin.weight.clone();
    const b0 = values(lin.bias!);
    peft.mergeAdapters();
    expectClose(peft.forward(x), y, 1e-5);
    expect(values(lin.bias!)).toEqual(b0);
    expect(maxAbsDiff(lin.weight, W0)).toBeGreaterThan(1e-3);
    peft.unmergeAdapters();
    const scale = Math.max(
      1,
      tf.tidy(() => tf.max(tf.abs(W0)).dataSync()[0]!),
    );
    expect(maxAbsDiff(lin.weight, W0)).toBeLessThanOrEqual(1e-5 * scale);
    expect(values(lin.bias!)).toEqual(b0);
  });

  it('B-266 useDora targeting an Embedding → UNSUPPORTED_TARGET naming the path', () => {
    seed();
    const model = new TinyLM();
    const err = thrown(() =>
      PeftModel.wrap(model, lora({ targetModules: ['embed_tokens', 'q_proj'], useDora: true })),
    );
    expect(err.code).toBe('UNSUPPORTED_TARGET');
    expect(err.message).toContain('model.embed_tokens');
    expect(err.message).toContain('Embedding');
    expect(model.getSubmodule('model.layers.0.self_attn.q_proj')).not.toBeInstanceOf(LoraLinear);
  });
});
