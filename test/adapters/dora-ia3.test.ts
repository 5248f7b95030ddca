/** SPEC §4.8 DoRA and IA³ (B-263 … B-269), and the part of B-270 about mixing kinds. */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import {
  Ia3Linear,
  LoraLinear,
  PeftModel,
  type Ia3Config,
  type LoraConfig,
} from '../../src/adapters/index.js';
import { Linear } from '../../src/nn/layers.js';
import { Holder, TinyLM, fill, makeIds, makeInput, randomize, seed } from '../fixtures/lora-models.js';
import { peftTensorsFor } from '../../src/io/peft-keys.js';
import { captureLogs, expectClose, maxAbsDiff, thrown, values } from '../helpers.js';

const lora = (extra: Partial<LoraConfig> = {}): LoraConfig => ({ type: 'lora', ...extra });
const ia3 = (extra: Partial<Ia3Config> = {}): Ia3Config => ({ type: 'ia3', ...extra });

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

describe('§4.8 IA³', () => {
  function ia3Model(cfg: Partial<Ia3Config>) {
    seed();
    const model = new TinyLM();
    model.eval();
    const peft = PeftModel.wrap(model, ia3({ targetModules: ['v_proj', 'fc2'], ...cfg }));
    return { model, peft };
  }

  it('B-267 IA³ on a non-feed-forward linear: ones leave the output unchanged; ia3_l = 2 doubles it, bias included', () => {
    const { model, peft } = ia3Model({});
    const w = model.getSubmodule('model.layers.0.self_attn.v_proj') as Ia3Linear;
    expect(w).toBeInstanceOf(Ia3Linear);
    const l = w.ia3_l.get('default')!;
    expect(l.shape).toEqual([8, 1]);
    expect(model.stateDict().has('model.layers.0.self_attn.v_proj.ia3_l.default')).toBe(true);
    const x = makeInput(3, 8);
    const base = (w.baseLayer as Linear).forward(x);
    expect(values(w.forward(x))).toEqual(values(base));
    fill(l, 2);
    expectClose(w.forward(x), tf.mul(base, 2), 1e-6);
    expect(l.trainable).toBe(true);
    void peft;
  });

  it('B-268 IA³ on a feed-forward linear: ia3_l is [1, in] and scales the input (not the bias); a non-target feed-forward module → INVALID_CONFIG', () => {
    const { model } = ia3Model({ feedforwardModules: ['fc2'] });
    const w = model.getSubmodule('model.layers.1.mlp.fc2') as Ia3Linear;
    const l = w.ia3_l.get('default')!;
    expect(l.shape).toEqual([1, 16]);
    const lin = w.baseLayer as Linear;
    const x = makeInput(3, 16);
    fill(l, 2);
    const expected = tf.add(tf.mul(tf.matMul(x, lin.weight, false, true), 2), lin.bias!);
    expectClose(w.forward(x), expected, 1e-5);
    expect(
      (model.getSubmodule('model.layers.1.self_attn.v_proj') as Ia3Linear).ia3_l.get('default')!.shape,
    ).toEqual([8, 1]);

    seed();
    const err = thrown(() =>
      PeftModel.wrap(new TinyLM(), ia3({ targetModules: ['v_proj'], feedforwardModules: ['fc2'] })),
    );
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('fc2');
    const err2 = thrown(() =>
      PeftModel.wrap(new TinyLM(), ia3({ targetModules: '.*v_proj', feedforwardModules: ['fc2'] })),
    );
    expect(err2.code).toBe('INVALID_CONFIG');
  });

  it('B-269 IA³ merge then unmerge: merged equals unmerged within 1e-5; unmerge warns it is approximate and restores W and the bias', () => {
    const { model, peft } = ia3Model({ feedforwardModules: ['fc2'] });
    let i = 0;
    for (const [k, p] of model.namedParameters()) if (k.includes('.ia3_l.')) randomize(p, 30 + i++, 0.5);
    const ids = makeIds();
    const y = peft.forward(ids);
    const before = new Map(model.namedParameters().map(([k, p]) => [k, p.clone()]));
    peft.mergeAdapters();
    expectClose(peft.forward(ids), y, 1e-5);
    const v = model.getSubmodule('model.layers.0.self_attn.v_proj') as Ia3Linear;
    expect(maxAbsDiff(v.weight, before.get('model.layers.0.self_attn.v_proj.weight')!)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(v.bias!, before.get('model.layers.0.self_attn.v_proj.bias')!)).toBeGreaterThan(1e-3);
    const fc2 = model.getSubmodule('model.layers.0.mlp.fc2') as Ia3Linear;
    expect(values(fc2.bias!)).toEqual(values(before.get('model.layers.0.mlp.fc2.bias')!)); // feed-forward: bias untouched
    const { warnings } = captureLogs(() => peft.unmergeAdapters());
    expect(warnings.some((w) => /approximate/.test(w))).toBe(true);
    for (const [k, p] of model.namedParameters()) {
      const w0 = before.get(k)!;
      const rel = tf.tidy(
        () => tf.max(tf.div(tf.abs(tf.sub(p, w0)), tf.maximum(tf.abs(w0), 1e-3))).dataSync()[0]!,
      );
      expect(rel, k).toBeLessThan(1e-5);
    }
    expectClose(peft.forward(ids), y, 1e-5);
  });

  it('B-270 adding a LoRA adapter to a model holding IA³ adapters (or the reverse) → UNSUPPORTED_FEATURE naming both; IA³ tensors use the ia3_l PEFT key', () => {
    const { peft } = ia3Model({ feedforwardModules: ['fc2'] });
    const err = thrown(() => peft.addAdapter('lora1', lora({ targetModules: ['q_proj'] })));
    expect(err.code).toBe('UNSUPPORTED_FEATURE');
    expect(err.message).toContain('lora');
    expect(err.message).toContain('ia3');
    expect(peft.adapterNames()).toEqual(['default']);
    const keys = [...peftTensorsFor(peft, 'default').keys()];
    expect(keys).toContain('base_model.model.model.layers.0.self_attn.v_proj.ia3_l');
    expect(
      peftTensorsFor(peft, 'default').get('base_model.model.model.layers.0.mlp.fc2.ia3_l')!.shape,
    ).toEqual([1, 16]);
    expect(peft.peftConfigFor('default')).toEqual({
      type: 'ia3',
      targetModules: ['v_proj', 'fc2'],
      feedforwardModules: ['fc2'],
      excludeModules: null,
      fanInFanOut: false,
      modulesToSave: null,
      initIa3Weights: true,
    });

    seed();
    const other = PeftModel.wrap(new TinyLM(), lora({ targetModules: ['q_proj'] }));
    const err2 = thrown(() => other.addAdapter('x', ia3({ targetModules: ['fc2'] })));
    expect(err2.code).toBe('UNSUPPORTED_FEATURE');
  });
});
