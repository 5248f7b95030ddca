/**
 * SPEC §3.10 LoRA wrapper basics (B-167 … B-173) and §4.1 LoRA layers (B-201 … B-211), plus a
 * LoRA-only training run and the PEFT tensor keys of §4.3 as `peftTensorsFor` exposes them.
 */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import {
  LoraEmbedding,
  LoraLinear,
  ModulesToSaveWrapper,
  PeftModel,
  libraryFrozen,
  type LoraConfig,
} from '../../../src/adapters/index.js';
import { BatchNorm, Embedding, Linear } from '../../../src/nn/layers.js';
import type { Module } from '../../../src/nn/module.js';
import {
  AdapterHost,
  TestModel,
  cfgPre,
  makeX,
  routing,
  seed as seedSpec,
} from '../../fixtures/spec-models.js';
import {
  Holder,
  TinyLM,
  fill,
  makeIds,
  makeInput,
  randomize,
  seed,
  snapshot,
} from '../../fixtures/lora-models.js';
import { loadPeftTensors, peftTensorsFor } from '../../../src/io/peft-keys.js';
import { captureLogs, expectClose, maxAbsDiff, thrown, values } from '../../helpers.js';

const lora = (extra: Partial<LoraConfig> = {}): LoraConfig => ({ type: 'lora', ...extra });

/** The LoRA wrapper at `path`. */
function loraAt(m: Module, path: string): LoraLinear {
  const w = m.getSubmodule(path);
  expect(w).toBeInstanceOf(LoraLinear);
  return w as LoraLinear;
}

/** Sets every lora_A / lora_B (and B's bias) in the model to seeded non-zero values (SPEC §4 intro). */
function randomizeLora(m: Module, s = 100): void {
  let i = 0;
  for (const [key, p] of m.namedParameters()) {
    if (/\.lora_(A|B|embedding_A|embedding_B)\./.test(key) || /\.lora_embedding_[AB]\.[^.]+$/.test(key))
      randomize(p, s + i++);
  }
}

/** `y − base(x)`, evaluated inside tidy. */
function diff(a: Tensor, b: Tensor): Tensor {
  return tf.sub(a, b);
}

describe('§3.10 LoRA wrapper basics', () => {
  it.each([true, false])(
    'B-167 wrapping Linear(10→10, bias %s) keeps every original key and value; only lora_A/lora_B are new',
    (bias) => {
      seed();
      const model = new Holder({ lin: new Linear({ inFeatures: 10, outFeatures: 10, bias }) });
      const before = snapshot(model);
      PeftModel.wrap(model, lora({ targetModules: ['lin'] }));
      const after = snapshot(model);
      for (const [k, v] of before) expect(after.get(k)).toEqual(v);
      const added = [...after.keys()].filter((k) => !before.has(k));
      expect(added).toEqual(['lin.lora_A.default.weight', 'lin.lora_B.default.weight']);
    },
  );

  it('B-168 after wrapping, lora_A and lora_B exist and are trainable', () => {
    seed();
    const model = new Holder({ lin: new Linear({ inFeatures: 10, outFeatures: 10 }) });
    PeftModel.wrap(model, lora({ targetModules: ['lin'] }));
    const w = loraAt(model, 'lin');
    expect(w.lora_A.get('default')!.weight.trainable).toBe(true);
    expect(w.lora_B.get('default')!.weight.trainable).toBe(true);
    expect(w.lora_A.get('default')!.weight.shape).toEqual([8, 10]);
    expect(w.lora_B.get('default')!.weight.shape).toEqual([10, 8]);
  });

  it('B-169 applying a LoRA config freezes every base parameter: linear, embedding and batch norm, targeted or not', () => {
    seed();
    const model = new TinyLM({ classifier: true });
    const baseKeys = model.namedParameters().map(([k]) => k);
    PeftModel.wrap(model, lora({ targetModules: ['q_proj'] }));
    const params = new Map(model.namedParameters());
    for (const k of baseKeys) expect(params.get(k)!.trainable, k).toBe(false);
    expect(params.get('model.embed_tokens.weight')!.trainable).toBe(false);
    expect(params.get('norm.weight')!.trainable).toBe(false);
    expect(params.get('norm.bias')!.trainable).toBe(false);
    const bn = model.getChild('norm') as BatchNorm;
    expect(libraryFrozen.has(bn)).toBe(true);
    const trainable = model
      .namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([k]) => k);
    expect(trainable.every((k) => /\.lora_[AB]\.default\.weight$/.test(k))).toBe(true);
    expect(trainable).toHaveLength(4);
  });

  it('B-171 xavierUniform with in = 64, r = 8: lora_A within ±√(6/72), some negative; lora_B zero [F]', () => {
    seed();
    const model = new Holder({ lin: new Linear({ inFeatures: 64, outFeatures: 32 }) });
    PeftModel.wrap(model, lora({ targetModules: ['lin'], r: 8, initLoraWeights: 'xavierUniform' }));
    const w = loraAt(model, 'lin');
    const a = values(w.lora_A.get('default')!.weight);
    const bound = 0.28867513459481287;
    expect(a.every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(a.some((v) => v < 0)).toBe(true);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(bound * 0.9); // spans the range, not U(±1/√64) = ±0.125
    expect(values(w.lora_B.get('default')!.weight).every((v) => v === 0)).toBe(true);
  });

  it('B-173 an unmatched target throws TARGET_NOT_FOUND and the process keeps running [F]', () => {
    const model = new TinyLM();
    const err = thrown(() => PeftModel.wrap(model, lora({ targetModules: ['nope_proj'] })));
    expect(err.code).toBe('TARGET_NOT_FOUND');
    expect(err.message).toContain('nope_proj');
    expect(err.message).toContain('q_proj'); // lists names present
    // still alive, and the model is usable and unwrapped
    expect(model.forward(makeIds()).shape).toEqual([2, 5, 12]);
    expect(model.namedParameters().every(([, p]) => p.trainable)).toBe(true);
  });
});

describe('§4.1 LoRA layers', () => {
  function single(inF = 2, outF = 2, bias = false) {
    return new Holder({ lin: new Linear({ inFeatures: inF, outFeatures: outF, bias }) });
  }

  it.each([
    [false, 2],
    [true, 4 / Math.SQRT2],
  ])('B-201 Linear(2→2), r = 2, α = 4, A = B = I (useRslora %s): the delta is %f·x', (useRslora, factor) => {
    seed();
    const model = single();
    const peft = PeftModel.wrap(model, lora({ targetModules: ['lin'], r: 2, loraAlpha: 4, useRslora }));
    const w = loraAt(model, 'lin');
    const eye = tf.eye(2);
    w.lora_A.get('default')!.weight.assign(eye);
    w.lora_B.get('default')!.weight.assign(eye);
    const x = makeInput(3, 2);
    const base = peft.withAdaptersDisabled(() => peft.forward(x));
    const delta = diff(peft.forward(x), base);
    expectClose(delta, tf.mul(x, factor), 1e-5);
  });

  it('B-202 with default init the wrapped layer output equals the base output exactly', () => {
    seed();
    const model = new TinyLM();
    const ids = makeIds();
    const y0 = values(model.forward(ids));
    const peft = PeftModel.wrap(model, lora({ targetModules: ['q_proj', 'v_proj', 'fc2', 'embed_tokens'] }));
    expect(values(peft.forward(ids))).toEqual(y0);
  });

  it("B-203 initLoraWeights 'gaussian', r = 16: lora_A std within 5% of 1/16 (4096 values); lora_B zero", () => {
    seed();
    const model = single(256, 8);
    PeftModel.wrap(model, lora({ targetModules: ['lin'], r: 16, initLoraWeights: 'gaussian' }));
    const w = loraAt(model, 'lin');
    const a = values(w.lora_A.get('default')!.weight);
    expect(a).toHaveLength(4096);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const std = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / (a.length - 1));
    expect(Math.abs(std - 1 / 16) / (1 / 16)).toBeLessThan(0.05);
    expect(values(w.lora_B.get('default')!.weight).every((v) => v === 0)).toBe(true);
  });

  it('B-204 two active adapters add both deltas from the same input; disabling one removes exactly its delta', () => {
    seed();
    const model = single(6, 5, true);
    const peft = PeftModel.wrap(model, lora({ targetModules: ['lin'], r: 2, loraAlpha: 4 }), {
      adapterName: 'a',
    });
    peft.addAdapter('b', lora({ targetModules: ['lin'], r: 3, loraAlpha: 3 }));
    randomizeLora(model);
    expect(peft.getEnabledAdapters()).toEqual(['a', 'b']);
    const w = loraAt(model, 'lin');
    const x = makeInput(4, 6);
    const base = peft.withAdaptersDisabled(() => peft.forward(x));
    const dA = tf.mul(
      tf.matMul(tf.matMul(x, w.lora_A.get('a')!.weight, false, true), w.lora_B.get('a')!.weight, false, true),
      2,
    );
    const dB = tf.mul(
      tf.matMul(tf.matMul(x, w.lora_A.get('b')!.weight, false, true), w.lora_B.get('b')!.weight, false, true),
      1,
    );
    expectClose(peft.forward(x), tf.add(tf.add(base, dA), dB), 1e-5);
    peft.setEnabledAdapters('b', false);
    expect(peft.getEnabledAdapters()).toEqual(['a']);
    expectClose(peft.forward(x), tf.add(base, dA), 1e-5);
    peft.setEnabledAdapters(null, false);
    expect(values(peft.forward(x))).toEqual(values(base));
  });

  it('B-205 loraDropout 0.5 (non-zero lora_B) changes outputs only in training and only in the LoRA branch; with lora_B = 0 nothing', () => {
    seed();
    const model = single(16, 8, true);
    const peft = PeftModel.wrap(model, lora({ targetModules: ['lin'], r: 4, loraDropout: 0.5 }));
    const w = loraAt(model, 'lin');
    const x = makeInput(6, 16);
    peft.eval();
    const baseEval = peft.withAdaptersDisabled(() => peft.forward(x));
    // lora_B = 0: training changes nothing (the base term never sees dropout)
    peft.train();
    expect(values(peft.forward(x))).toEqual(values(baseEval));
    randomizeLora(model);
    const A = w.lora_A.get('default')!.weight;
    const B = w.lora_B.get('default')!.weight;
    const fullDelta = tf.mul(tf.matMul(tf.matMul(x, A, false, true), B, false, true), 2); // s = 8 / 4
    peft.eval();
    expectClose(peft.forward(x), tf.add(baseEval, fullDelta), 1e-5); // eval: no dropout
    peft.train();
    const yTrain = peft.forward(x);
    expect(maxAbsDiff(yTrain, tf.add(baseEval, fullDelta))).toBeGreaterThan(1e-3);
    // the base term is untouched, and training output − base lies in the span of B's columns (a LoRA branch)
    expect(values(peft.withAdaptersDisabled(() => peft.forward(x)))).toEqual(values(baseEval));
    const branch = tf.sub(yTrain, baseEval); // [6, 8] = (x ⊙ mask / 0.5)·Aᵀ·Bᵀ
    const h = tf.matMul(branch, tf.linalg.gramSchmidt(tf.transpose(B) as tf.Tensor2D) as Tensor, false, true); // project on B's column space
    const back = tf.matMul(h, tf.linalg.gramSchmidt(tf.transpose(B) as tf.Tensor2D) as Tensor);
    expectClose(back, branch, 1e-4);
  });

  it('B-206 loraBias adds lora_B.<n>.bias [out], zero at init', () => {
    seed();
    const model = single(6, 5, true);
    PeftModel.wrap(model, lora({ targetModules: ['lin'], loraBias: true }));
    const sd = model.stateDict();
    expect(sd.get('lin.lora_B.default.bias')!.shape).toEqual([5]);
    expect(values(sd.get('lin.lora_B.default.bias')!).every((v) => v === 0)).toBe(true);
    expect(model.namedParameters().find(([k]) => k === 'lin.lora_B.default.bias')![1].trainable).toBe(true);
  });

  it('B-207 a wrapped Embedding starts equal to the base lookup; with A = B = ones the delta is s·r everywhere', () => {
    seed();
    const model = new TinyLM();
    const emb = model.getChild('model')!.getChild('embed_tokens') as Embedding;
    const ids = makeIds();
    const base = emb.forward(ids);
    const peft = PeftModel.wrap(model, lora({ targetModules: ['embed_tokens'], r: 4, loraAlpha: 2 }));
    const w = model.getSubmodule('model.embed_tokens') as LoraEmbedding;
    expect(w).toBeInstanceOf(LoraEmbedding);
    expect(model.stateDict().get('model.embed_tokens.lora_embedding_A.default')!.shape).toEqual([4, 12]);
    expect(model.stateDict().get('model.embed_tokens.lora_embedding_B.default')!.shape).toEqual([8, 4]);
    expect(values(w.forward(ids))).toEqual(values(base));
    fill(w.lora_embedding_A.get('default')!, 1);
    fill(w.lora_embedding_B.get('default')!, 1);
    expectClose(diff(w.forward(ids), base), tf.fill([2, 5, 8], 0.5 * 4), 1e-6);
    void peft;
  });

  it('B-208 modulesToSave: the active adapter’s classifier copy is trainable and used; switching adapter switches copy; the original stays frozen', () => {
    seed();
    const model = new TinyLM({ classifier: true });
    const ids = makeIds();
    model.eval();
    const y0 = model.forward(ids);
    const peft = PeftModel.wrap(model, lora({ targetModules: ['q_proj'], modulesToSave: ['classifier'] }), {
      adapterName: 'a',
    });
    peft.addAdapter('b', lora({ targetModules: ['q_proj'], modulesToSave: ['classifier'] }));
    const wrapper = model.getChild('classifier') as ModulesToSaveWrapper;
    expect(wrapper).toBeInstanceOf(ModulesToSaveWrapper);
    const sd = model.stateDict();
    expect(sd.has('classifier.weight')).toBe(true);
    expect(sd.has('classifier.modules_to_save.a.weight')).toBe(true);
    const original = wrapper.originalModule as Linear;
    expect(original.weight.trainable).toBe(false);
    const copyA = wrapper.modules_to_save.get('a') as Linear;
    const copyB = wrapper.modules_to_save.get('b') as Linear;
    expect(copyA.weight.trainable).toBe(true);
    expect(copyA.bias!.trainable).toBe(true);
    expect(copyA.weight).not.toBe(original.weight);
    randomize(copyA.weight, 1);
    randomize(copyB.weight, 2);
    peft.setActiveAdapters('a');
    const yA = peft.forward(ids);
    peft.setActiveAdapters(['b']);
    const yB = peft.forward(ids);
    expect(maxAbsDiff(yA, y0)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(yA, yB)).toBeGreaterThan(1e-3);
    // the copy really is the one used: running it by hand gives the same logits
    const feats = peft.withAdaptersDisabled(() => {
      const m = model.getChild('model')!;
      let x = m.getChild('embed_tokens')!.forward(ids) as Tensor;
      for (const [, blk] of (m.getChild('layers') as Module).namedChildren()) x = blk.forward(x);
      return (model.getChild('norm') as BatchNorm).forward(tf.mean(x, 1));
    });
    expectClose(yB, copyB.forward(feats), 1e-5);
    expect(values(peft.withAdaptersDisabled(() => peft.forward(ids)))).toEqual(values(y0));
    expect(original.weight.trainable).toBe(false);
    // both copies running at once is refused
    peft.setActiveAdapters(['a', 'b']);
    expect(thrown(() => peft.forward(ids)).code).toBe('INVALID_CONFIG'); // SPEC §5.2 B-322
  });

  it("B-209 bias 'lora_only' makes the wrapped layers' biases trainable and nothing else; 'all' makes every bias trainable", () => {
    seed();
    const m1 = new TinyLM({ classifier: true });
    PeftModel.wrap(m1, lora({ targetModules: ['q_proj'], bias: 'lora_only' }));
    const t1 = m1
      .namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([k]) => k);
    const nonLora1 = t1.filter((k) => !k.includes('.lora_'));
    expect(nonLora1.sort()).toEqual([
      'model.layers.0.self_attn.q_proj.bias',
      'model.layers.1.self_attn.q_proj.bias',
    ]);

    const m2 = new TinyLM({ classifier: true });
    PeftModel.wrap(m2, lora({ targetModules: ['q_proj'], bias: 'all' }));
    for (const [k, p] of m2.namedParameters()) {
      if (k.endsWith('.bias')) expect(p.trainable, k).toBe(true);
      else if (!k.includes('.lora_')) expect(p.trainable, k).toBe(false);
    }
    expect(m2.namedParameters().find(([k]) => k === 'norm.bias')![1].trainable).toBe(true);
  });

  it('B-210 deleteAdapter removes tensors, config and order; the count drops by its size; re-adding puts it last; unknown → UNKNOWN_ADAPTER; a merged adapter is unmerged first', () => {
    seed();
    const model = new TinyLM();
    const ids = makeIds();
    const peft = PeftModel.wrap(model, lora({ targetModules: ['q_proj', 'v_proj'], r: 2 }), {
      adapterName: 'a',
    });
    peft.addAdapter('b', lora({ targetModules: ['q_proj'], r: 3 }));
    peft.addAdapter('c', lora({ targetModules: ['v_proj'], r: 2 }));
    randomizeLora(model);
    const count = model.numParameters();
    const bSize = 2 * 3 * (8 + 8);
    const yWithoutB = (() => {
      peft.setEnabledAdapters('b', false);
      const y = peft.forward(ids);
      peft.setEnabledAdapters('b', true);
      return y;
    })();
    const weightsBefore = snapshot(model);
    peft.mergeAdapters(['b']);
    peft.deleteAdapter('b');
    expect(model.numParameters()).toBe(count - bSize);
    expect([...model.stateDict().keys()].some((k) => k.includes('.b.'))).toBe(false);
    expect(peft.adapterNames()).toEqual(['a', 'c']);
    expect(thrown(() => peft.peftConfigFor('b')).code).toBe('UNKNOWN_ADAPTER');
    expectClose(peft.forward(ids), yWithoutB, 1e-5);
    // base weights are back (within float tolerance) after the implicit unmerge
    const after = snapshot(model);
    for (const k of ['model.layers.0.self_attn.q_proj.weight', 'model.layers.1.self_attn.q_proj.weight']) {
      const a = Array.from(after.get(k)!);
      const b = Array.from(weightsBefore.get(k)!);
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeLessThan(1e-6);
    }
    peft.addAdapter('b', lora({ targetModules: ['q_proj'], r: 3 }));
    expect(peft.adapterNames()).toEqual(['a', 'c', 'b']);
    expect(peft.getEnabledAdapters()).toEqual(['a', 'c', 'b']);
    const err = thrown(() => peft.deleteAdapter('zz'));
    expect(err.code).toBe('UNKNOWN_ADAPTER');
    expect(err.message).toContain('zz');
    expect(err.message).toContain('a, c, b');
    // deleting every adapter on a layer puts the original Linear back
    peft.deleteAdapter('b');
    peft.deleteAdapter('a');
    expect(model.getSubmodule('model.layers.0.self_attn.q_proj')).toBeInstanceOf(Linear);
    expect(model.getSubmodule('model.layers.0.self_attn.v_proj')).toBeInstanceOf(LoraLinear);
  });

  it('B-211 module-level deleteAdapter on a model removes it from hosts, cfg.adapters, meta.modules and order; outputs return to pre-add values', () => {
    seedSpec();
    const m = new TestModel(routing('encdec'));
    m.eval();
    const x = makeX();
    const y0 = m.forward(x);
    m.addAdapter('adapter_0', cfgPre);
    m.addAdapter('decoder:adapter_1', cfgPre);
    for (const [k, p] of m.namedParameters())
      if (k.includes('adapter_0') && k.endsWith('module.3.weight')) randomize(p, 3, 0.1);
    expect(maxAbsDiff(m.forward(x), y0)).toBeGreaterThan(1e-4);
    m.deleteAdapter('adapter_0');
    for (const h of [m.encoder, m.decoder] as AdapterHost[])
      expect(h.heldAdapterNames()).not.toContain('adapter_0');
    expect(m.cfg.adapters!['adapter_0']).toBeUndefined();
    const meta = m.cfg.adapters!.globalCfg!.adapterMetaCfg!;
    expect(meta.modules['adapter_0']).toBeUndefined();
    expect(meta.order).toEqual(['adapter_1']);
    expect(maxAbsDiff(m.forward(x), y0)).toBeLessThan(1e-5);
    expect(thrown(() => m.deleteAdapter('adapter_0')).code).toBe('UNKNOWN_ADAPTER');
  });
});

describe('LoRA-only training', () => {
  it('50 steps of tf.variableGrads over the trainable variables: loss falls, base weights bit-identical, tensor count flat', () => {
    seed(3);
    const model = new TinyLM({ classifier: true, d: 8, h: 16 });
    const peft = PeftModel.wrap(
      model,
      lora({ targetModules: ['q_proj', 'v_proj', 'embed_tokens'], r: 4, loraAlpha: 8, loraDropout: 0.1 }),
    );
    const base = new Map(
      model
        .namedParameters()
        .filter(([, p]) => !p.trainable)
        .map(([k, p]) => [k, values(p)]),
    );
    const ids = makeIds(8, 6, 12, 11);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3);
    const vars = peft.trainableParameters();
    expect(vars.length).toBe(10); // A and B on 2 q_proj, 2 v_proj, 1 embedding
    const opt = tf.train.adam(0.05);
    peft.train();
    const losses: number[] = [];
    let count = -1;
    for (let step = 0; step < 50; step++) {
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(labels, peft.forward(ids) as Tensor) as tf.Scalar,
        vars,
      );
      opt.applyGradients(grads as unknown as Parameters<typeof opt.applyGradients>[0]);
      losses.push(value.dataSync()[0]!);
      value.dispose();
      tf.dispose(Object.values(grads));
      if (step === 2) count = tf.memory().numTensors;
      if (step > 2) expect(tf.memory().numTensors).toBe(count);
    }
    expect(losses[49]!).toBeLessThan(losses[0]! * 0.7);
    for (const [k, p] of model.namedParameters()) if (base.has(k)) expect(values(p), k).toEqual(base.get(k));
    opt.dispose();
    labels.dispose();
  });
});

describe('§4.3 tensors by PEFT key (peftTensorsFor / loadPeftTensors)', () => {
  it('linear and embedding adapters use the §4.3 keys and shapes, without the adapter name', () => {
    seed();
    const model = new TinyLM({ d: 64, h: 16 });
    const peft = PeftModel.wrap(model, lora({ targetModules: ['q_proj', 'embed_tokens'], r: 8 }), {
      adapterName: 'task2',
    });
    const t = peftTensorsFor(peft, 'task2');
    expect(t.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')!.shape).toEqual([8, 64]);
    expect(t.get('base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight')!.shape).toEqual([64, 8]);
    expect(t.get('base_model.model.model.embed_tokens.lora_embedding_A')!.shape).toEqual([8, 12]);
    expect(t.get('base_model.model.model.embed_tokens.lora_embedding_B')!.shape).toEqual([64, 8]);
    expect([...t.keys()].some((k) => k.includes('task2'))).toBe(false);
    expect(t.size).toBe(6);
  });

  it("modulesToSave copies use the original keys; bias 'lora_only' adds base_layer.bias; DoRA adds lora_magnitude_vector", () => {
    seed();
    const model = new TinyLM({ classifier: true });
    const peft = PeftModel.wrap(
      model,
      lora({ targetModules: ['q_proj'], modulesToSave: ['classifier'], bias: 'lora_only', useDora: true }),
    );
    const keys = [...peftTensorsFor(peft, 'default').keys()];
    expect(keys).toContain('base_model.model.classifier.weight');
    expect(keys).toContain('base_model.model.classifier.bias');
    expect(keys).toContain('base_model.model.model.layers.0.self_attn.q_proj.base_layer.bias');
    expect(keys).toContain('base_model.model.model.layers.1.self_attn.q_proj.lora_magnitude_vector');
    expect(peft.peftConfigFor('default')).toMatchObject({
      type: 'lora',
      targetModules: ['q_proj'],
      useDora: true,
    });
    expect(peft.wrappedModulesFor('default').map((m) => m.path)).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.1.self_attn.q_proj',
    ]);
  });

  it('loadPeftTensors round-trips, accepts unprefixed keys with one warning, and reports problems together (looks transposed)', () => {
    seed();
    const src = new TinyLM({ d: 64 });
    const a = PeftModel.wrap(src, lora({ targetModules: ['q_proj'], r: 8, loraBias: true }));
    randomizeLora(src);
    const tensors = new Map([...peftTensorsFor(a, 'default')].map(([k, t]) => [k, t.clone()]));
    seed(9);
    const dst = new TinyLM({ d: 64 });
    const b = PeftModel.wrap(dst, lora({ targetModules: ['q_proj'], r: 8, loraBias: true }));
    expect(loadPeftTensors(b, 'default', tensors)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    for (const [k, t] of peftTensorsFor(b, 'default')) expect(values(t), k).toEqual(values(tensors.get(k)!));

    const unprefixed = new Map([...tensors].map(([k, t]) => [k.replace('base_model.model.', ''), t]));
    const { warnings } = captureLogs(() => loadPeftTensors(b, 'default', unprefixed));
    expect(warnings).toHaveLength(1);

    const aKey = 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight';
    const bKey = 'base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight';
    const bad = new Map(tensors);
    bad.set(aKey, tf.zeros([64, 8]));
    bad.delete(bKey);
    bad.set('base_model.model.extra.weight', tf.zeros([1]));
    const before = values(peftTensorsFor(b, 'default').get(bKey.replace('layers.1', 'layers.0'))!);
    for (const strict of [true, false]) {
      const err = thrown(() => loadPeftTensors(b, 'default', bad, { strict }));
      expect(err.code).toBe('STATE_DICT_MISMATCH');
      expect(err.message).toContain(aKey);
      expect(err.message).toContain('[64, 8]');
      expect(err.message).toContain('[8, 64]');
      expect(err.message).toContain('looks transposed');
      expect(err.message).toContain(bKey);
      expect(err.message).toContain('extra.weight');
    }
    expect(values(peftTensorsFor(b, 'default').get(bKey.replace('layers.1', 'layers.0'))!)).toEqual(before); // nothing copied
    bad.set(aKey, tensors.get(aKey)!);
    const { result, warnings: w2 } = captureLogs(() => loadPeftTensors(b, 'default', bad, { strict: false }));
    expect(result.missingKeys).toEqual([bKey]);
    expect(result.unexpectedKeys).toEqual(['base_model.model.extra.weight']);
    expect(w2).toHaveLength(1);
  });
});
