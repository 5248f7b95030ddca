/**
 * SPEC §4.5 per-sample adapter selection (B-245 … B-250), for LoRA models (`PeftModel.forward`) and
 * for hosts holding linear adapters (`forwardEnabledAdapters(input, {adapterNames})`). Both the
 * one-pass path and the grouped path are checked against separate runs with only the row's
 * selection active, and the path taken is observed by counting whole-model forwards (LoRA) or chain
 * runs (hosts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tf, type Tensor, type Variable } from '../../src/backend/tf.js';
import {
  AccessContext,
  PeftModel,
  TransformerEncoderBlockAdapter,
  resetRegistry,
  setAccessContext,
  type LinearAdapterConfig,
  type LoraConfig,
  type WrapperConfig,
} from '../../src/adapters/index.js';
import { Module } from '../../src/nn/module.js';
import type { Rng } from '../../src/rng.js';
import { AdapterHost, makeX, seed as seedSpec } from '../fixtures/spec-models.js';
import { TinyLM, makeIds, randomize, seed } from '../fixtures/lora-models.js';
import { maxAbsDiff, thrown } from '../helpers.js';

const lora = (extra: Partial<LoraConfig> = {}): LoraConfig => ({ type: 'lora', ...extra });

/** Sets every LoRA tensor (A, B, B's bias, embedding A/B) to seeded non-zero values (SPEC §4 intro). */
function randomizeLora(m: Module, s = 100): void {
  let i = 0;
  for (const [key, p] of m.namedParameters()) {
    if (
      /\.lora_(A|B|embedding_A|embedding_B)\./.test(key) ||
      /\.lora_embedding_[AB]\.[^.]+$/.test(key) ||
      /lora_magnitude_vector/.test(key)
    ) {
      randomize(p, s + i++, 0.3);
    }
  }
}

/** Row `i` of `t` as a tensor `[1, ...]`. */
function row(t: Tensor, i: number): Tensor {
  return tf.slice(t, i, 1);
}

/** Max |a[i] − b[j]| over row i of a and row j of b. */
function rowDiff(a: Tensor, i: number, b: Tensor, j = i): number {
  return tf.tidy(() => maxAbsDiff(row(a, i), row(b, j)));
}

/** Counts calls of `obj[method]` (an own-property wrapper around the prototype method). */
function countCalls<T extends object>(obj: T, method: keyof T & string): { count: number; restore(): void } {
  const orig = (obj as Record<string, unknown>)[method] as (...a: unknown[]) => unknown;
  const counter = {
    count: 0,
    restore: () => delete (obj as Record<string, unknown>)[method],
  };
  (obj as Record<string, unknown>)[method] = (...a: unknown[]) => {
    counter.count++;
    return orig.apply(obj, a);
  };
  return counter;
}

/** Reference output of a LoRA model with only `name` active (or no adapter for `'__base__'`). */
function loraReference(peft: PeftModel, ids: Tensor, name: string): Tensor {
  if (name === '__base__') return peft.withAdaptersDisabled(() => peft.forward(ids) as Tensor);
  const prev = peft.getEnabledAdapters();
  peft.setActiveAdapters([name]);
  try {
    return peft.forward(ids) as Tensor;
  } finally {
    peft.setActiveAdapters(prev);
  }
}

/** Checks every row of a per-sample LoRA forward against separate runs; returns the max difference. */
function checkLoraRows(peft: PeftModel, ids: Tensor, names: string[]): number {
  const y = peft.forward(ids, { adapterNames: names }) as Tensor;
  let worst = 0;
  const refs = new Map<string, Tensor>();
  names.forEach((n, i) => {
    if (!refs.has(n)) refs.set(n, loraReference(peft, ids, n));
    worst = Math.max(worst, rowDiff(y, i, refs.get(n)!));
  });
  for (const t of [y, ...refs.values()]) t.dispose();
  return worst;
}

/**
 * TinyLM (vocab 12, d 8, 2 layers) with three LoRA adapters of different ranks, scalings and targets:
 * `a` (r 4, on q_proj, v_proj and the embedding), `b` (r 2, rsLoRA, lora_B bias, on q_proj and fc1),
 * `c` (r 3, on o_proj). Every LoRA tensor is non-zero.
 */
function loraSetup(extra: { b?: Partial<LoraConfig>; classifier?: boolean; a?: Partial<LoraConfig> } = {}) {
  seed();
  const model = new TinyLM({ classifier: extra.classifier ?? false });
  model.eval();
  const peft = PeftModel.wrap(
    model,
    lora({ targetModules: ['q_proj', 'v_proj', 'embed_tokens'], r: 4, loraAlpha: 8, ...extra.a }),
    {
      adapterName: 'a',
    },
  );
  peft.addAdapter(
    'b',
    lora({
      targetModules: ['q_proj', 'fc1'],
      r: 2,
      loraAlpha: 3,
      useRslora: true,
      loraBias: true,
      ...extra.b,
    }),
  );
  peft.addAdapter('c', lora({ targetModules: ['o_proj'], r: 3, loraAlpha: 6 }));
  randomizeLora(model);
  peft.eval();
  return { model, peft, ids: makeIds(4, 5) };
}

describe('§4.5 per-sample selection on LoRA models', () => {
  it('B-245 eval, batch 4 with [a, __base__, b, a]: each row equals its separate run within 1e-6 (one pass: one model forward)', () => {
    const { model, peft, ids } = loraSetup();
    const calls = countCalls(model, 'forward');
    const y = peft.forward(ids, { adapterNames: ['a', '__base__', 'b', 'a'] }) as Tensor;
    expect(calls.count).toBe(1);
    calls.restore();
    const ya = loraReference(peft, ids, 'a');
    const yb = loraReference(peft, ids, 'b');
    const y0 = loraReference(peft, ids, '__base__');
    expect(rowDiff(y, 0, ya)).toBeLessThanOrEqual(1e-6);
    expect(rowDiff(y, 1, y0)).toBeLessThanOrEqual(1e-6);
    expect(rowDiff(y, 2, yb)).toBeLessThanOrEqual(1e-6);
    expect(rowDiff(y, 3, ya)).toBeLessThanOrEqual(1e-6);
    // the branches are non-trivial: the three references differ
    expect(maxAbsDiff(ya, y0)).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(yb, y0)).toBeGreaterThan(1e-2);
    expect(y.shape).toEqual(ya.shape);
  });

  it('B-245 every row of a mixed batch of all three adapters and the base (different ranks, targets, rsLoRA, lora bias, embedding) matches', () => {
    const { peft } = loraSetup();
    const ids = makeIds(6, 5, 12, 3);
    expect(checkLoraRows(peft, ids, ['c', 'b', '__base__', 'a', 'c', 'b'])).toBeLessThanOrEqual(1e-6);
    expect(
      checkLoraRows(peft, ids, ['__base__', '__base__', 'a', '__base__', 'a', '__base__']),
    ).toBeLessThanOrEqual(1e-6);
  });

  it('B-245 a single selection for the whole batch is a plain forward with that adapter active', () => {
    const { model, peft, ids } = loraSetup();
    const calls = countCalls(model, 'forward');
    expect(checkLoraRows(peft, ids, ['b', 'b', 'b', 'b'])).toBeLessThanOrEqual(1e-6);
    expect(calls.count).toBeGreaterThan(0);
    calls.restore();
  });

  it('B-245 DoRA adapters (per-group inside the layer) mixed with plain LoRA rows match separate runs', () => {
    const { model, peft, ids } = loraSetup({ b: { useDora: true, loraBias: false } });
    const calls = countCalls(model, 'forward');
    const y = peft.forward(ids, { adapterNames: ['b', 'a', 'b', '__base__'] }) as Tensor;
    expect(calls.count).toBe(1);
    calls.restore();
    y.dispose();
    expect(checkLoraRows(peft, ids, ['b', 'a', 'b', '__base__'])).toBeLessThanOrEqual(1e-6);
  });

  it('B-245 grouped fallback: modulesToSave copies run the model once per row group and match separate runs', () => {
    const { model, peft } = loraSetup({
      classifier: true,
      b: { modulesToSave: ['classifier'], loraBias: false },
    });
    // the classifier copy of b differs from the original
    const copy = model.namedParameters().find(([k]) => k === 'classifier.modules_to_save.b.weight')![1];
    randomize(copy, 5);
    const ids = makeIds(4, 5);
    const calls = countCalls(model, 'forward');
    const y = peft.forward(ids, { adapterNames: ['a', 'b', '__base__', 'b'] }) as Tensor;
    expect(calls.count).toBe(3);
    calls.restore();
    expect(y.shape).toEqual([4, 3]);
    y.dispose();
    expect(checkLoraRows(peft, ids, ['a', 'b', '__base__', 'b'])).toBeLessThanOrEqual(1e-6);
  });

  it('B-245 grouped fallback: IA³ adapters match separate runs', () => {
    seed();
    const model = new TinyLM();
    model.eval();
    const ia3: WrapperConfig = { type: 'ia3', targetModules: ['q_proj', 'fc2'], feedforwardModules: ['fc2'] };
    const peft = PeftModel.wrap(model, ia3, { adapterName: 'x' });
    peft.addAdapter('y', { type: 'ia3', targetModules: ['v_proj'] });
    let i = 0;
    for (const [k, p] of model.namedParameters()) if (k.includes('ia3_l')) randomize(p, 40 + i++, 0.5);
    const ids = makeIds(4, 5);
    const calls = countCalls(model, 'forward');
    tf.tidy(() => peft.forward(ids, { adapterNames: ['y', 'x', 'x', '__base__'] }));
    expect(calls.count).toBe(3);
    calls.restore();
    expect(checkLoraRows(peft, ids, ['y', 'x', 'x', '__base__'])).toBeLessThanOrEqual(1e-6);
  });

  it('B-246 adapterNames of length 3 for a batch of 4 → BATCH_SELECTION naming both numbers; an unknown name → UNKNOWN_ADAPTER listing valid names and __base__', () => {
    const { peft, ids } = loraSetup();
    const err = thrown(() => peft.forward(ids, { adapterNames: ['a', 'a', 'a'] }));
    expect(err.code).toBe('BATCH_SELECTION');
    expect(err.message).toContain('3');
    expect(err.message).toContain('4');
    const err2 = thrown(() => peft.forward(ids, { adapterNames: ['a', 'zz', 'a', 'a'] }));
    expect(err2.code).toBe('UNKNOWN_ADAPTER');
    for (const s of ['zz', 'a', 'b', 'c', '__base__']) expect(err2.message).toContain(s);
    // LoRA rows take one name each, not a chain
    const err3 = thrown(() =>
      peft.forward(ids, { adapterNames: [['a', 'b'], 'a', 'a', 'a'] as unknown as string[] }),
    );
    expect(err3.code).toBe('BATCH_SELECTION');
  });

  it('B-247 training with [a, a, __base__, __base__]: b’s (and c’s) variables get no gradient; a’s lora_A and lora_B gradients are non-zero', () => {
    const { model, peft, ids } = loraSetup();
    peft.train();
    const named = model.namedParameters().filter(([, v]) => v.trainable);
    const pathOf = new Map(named.map(([k, v]) => [v.name, k]));
    const { value, grads } = tf.variableGrads(
      () =>
        tf.sum(
          peft.forward(ids, { adapterNames: ['a', 'a', '__base__', '__base__'] }) as Tensor,
        ) as tf.Scalar,
      named.map(([, v]) => v),
    );
    value.dispose();
    const byPath = new Map(Object.entries(grads).map(([n, g]) => [pathOf.get(n)!, g]));
    const absSum = (g: Tensor) => tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0]!);
    for (const [k] of named) {
      const g = byPath.get(k);
      if (/\.(b|c)(\.|$)/.test(k)) {
        if (g) expect(absSum(g), k).toBe(0);
      }
    }
    for (const k of [
      'model.layers.0.self_attn.q_proj.lora_A.a.weight',
      'model.layers.0.self_attn.q_proj.lora_B.a.weight',
      'model.embed_tokens.lora_embedding_B.a',
    ]) {
      expect(byPath.get(k), k).toBeDefined();
      expect(absSum(byPath.get(k)!), k).toBeGreaterThan(0);
    }
    for (const g of Object.values(grads)) g.dispose();
  });

  it('B-247 training: LoRA dropout is drawn per row and touches only the LoRA branch (base rows are exactly the base output)', () => {
    const { model, peft, ids } = loraSetup({ a: { loraDropout: 0.5 } });
    const y0 = loraReference(peft, ids, '__base__');
    peft.train();
    const y = peft.forward(ids, { adapterNames: ['a', '__base__', 'a', '__base__'] }) as Tensor;
    expect(rowDiff(y, 1, y0)).toBeLessThanOrEqual(1e-6);
    expect(rowDiff(y, 3, y0)).toBeLessThanOrEqual(1e-6);
    peft.eval();
    const ya = loraReference(peft, ids, 'a');
    expect(rowDiff(y, 0, ya)).toBeGreaterThan(1e-4); // dropout changed the adapter rows in training
    for (const t of [y0, y, ya]) t.dispose();
    expect(model.training).toBe(false);
  });

  it('B-249 with adapter a merged, any adapterNames call → BATCH_SELECTION saying to unmerge first', () => {
    const { peft, ids } = loraSetup();
    peft.mergeAdapters(['a']);
    for (const names of [
      ['b', 'b', 'b', 'b'],
      ['a', '__base__', 'b', 'a'],
      ['__base__', '__base__', '__base__', '__base__'],
    ]) {
      const err = thrown(() => peft.forward(ids, { adapterNames: names }));
      expect(err.code).toBe('BATCH_SELECTION');
      expect(err.message).toMatch(/unmerge/i);
    }
    peft.unmergeAdapters();
    expect(checkLoraRows(peft, ids, ['a', 'b', '__base__', 'c'])).toBeLessThanOrEqual(1e-6);
  });

  it('B-250 a disabled adapter named in adapterNames is applied for that call and stays disabled; enabled flags of others are ignored', () => {
    const { peft, ids } = loraSetup();
    peft.setEnabledAdapters('b', false);
    expect(peft.getEnabledAdapters()).toEqual(['a', 'c']);
    const y = peft.forward(ids, { adapterNames: ['b', '__base__', 'b', 'a'] }) as Tensor;
    expect(peft.getEnabledAdapters()).toEqual(['a', 'c']);
    const yb = loraReference(peft, ids, 'b');
    const y0 = loraReference(peft, ids, '__base__');
    const ya = loraReference(peft, ids, 'a');
    expect(rowDiff(y, 0, yb)).toBeLessThanOrEqual(1e-6);
    expect(rowDiff(y, 1, y0)).toBeLessThanOrEqual(1e-6); // c is enabled but the row asked for the base
    expect(rowDiff(y, 2, yb)).toBeLessThanOrEqual(1e-6);
    expect(rowDiff(y, 3, ya)).toBeLessThanOrEqual(1e-6);
    expect(peft.getEnabledAdapters()).toEqual(['a', 'c']);
    for (const t of [y, yb, y0, ya]) t.dispose();
  });

  it('tensor counts stay flat across per-sample forwards and training steps', () => {
    const { model, peft, ids } = loraSetup({ b: { useDora: true, loraBias: false } });
    const names = ['a', 'b', '__base__', 'c'];
    const vars = model
      .namedParameters()
      .filter(([, v]) => v.trainable)
      .map(([, v]) => v);
    const step = () => {
      peft.eval();
      (peft.forward(ids, { adapterNames: names }) as Tensor).dispose();
      peft.train();
      const { value, grads } = tf.variableGrads(
        () => tf.sum(peft.forward(ids, { adapterNames: names }) as Tensor) as tf.Scalar,
        vars,
      );
      value.dispose();
      for (const g of Object.values(grads)) g.dispose();
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
  });
});

// ---------------------------------------------------------------------------------------------
// Hosts with linear adapters

const linearCfg = (extra: Partial<LinearAdapterConfig> = {}): LinearAdapterConfig => ({
  type: 'linear',
  inFeatures: 50,
  dim: 16,
  ...extra,
});

/** Sets every parameter of the named adapters to seeded non-zero values (LN γ/β, down, up). */
function randomizeAdapters(
  host: { getAdapterModule(n: string): Module | undefined },
  names: string[],
  s = 20,
): void {
  let i = 0;
  for (const n of names)
    for (const p of host.getAdapterModule(n)!.parameters()) randomize(p as Variable, s + i++, 0.3);
}

/** A standalone host (Linear + BatchNorm, then its adapters) holding the given linear adapters. */
function hostSetup(
  cfgs: Record<string, LinearAdapterConfig>,
  extra: Record<string, Record<string, unknown>> = {},
) {
  seedSpec();
  const host = new AdapterHost();
  for (const [n, c] of Object.entries(cfgs)) host.addAdapter(n, c, extra[n]);
  randomizeAdapters(host, Object.keys(cfgs));
  host.eval();
  return host;
}

/** Reference: the host's adapters run with exactly `sel` enabled (a chain runs in insertion order). */
function hostReference(host: AdapterHost, x: Tensor, sel: string | string[]): Tensor {
  const names = Array.isArray(sel) ? sel : sel === '__base__' ? [] : [sel];
  const prev = host.heldAdapterNames().filter((n) => host.getEnabledAdapters().includes(n));
  host.setEnabledAdapters(null, false);
  for (const n of names) host.setEnabledAdapters(n, true);
  try {
    return host.forwardEnabledAdapters(x);
  } finally {
    host.setEnabledAdapters(null, false);
    for (const n of prev) host.setEnabledAdapters(n, true);
  }
}

/** Per-sample output of `host` and the number of chain runs it took (0 = one pass). */
function hostPerSample(
  host: AdapterHost,
  x: Tensor,
  names: Array<string | string[]>,
): { y: Tensor; chains: number } {
  const calls = countCalls(host, 'forwardAdapterChain');
  try {
    return { y: host.forwardEnabledAdapters(x, { adapterNames: names }), chains: calls.count };
  } finally {
    calls.restore();
  }
}

function checkHostRows(host: AdapterHost, x: Tensor, y: Tensor, names: Array<string | string[]>): number {
  let worst = 0;
  names.forEach((n, i) => {
    const ref = hostReference(host, x, n);
    worst = Math.max(worst, rowDiff(y, i, ref));
    if (ref !== x) ref.dispose(); // a base row's reference is the input itself
  });
  return worst;
}

describe('§4.5 per-sample selection on hosts with linear adapters', () => {
  beforeEach(() => setAccessContext(new AccessContext()));

  it('B-245 one pass: pre-norm adapters of different bottleneck widths, [a, __base__, b, a], rows match separate runs within 1e-6', () => {
    const host = hostSetup({ a: linearCfg({ dim: 16 }), b: linearCfg({ dim: 7 }) });
    const x = makeX(4);
    const names = ['a', '__base__', 'b', 'a'];
    const { y, chains } = hostPerSample(host, x, names);
    expect(chains).toBe(0);
    expect(checkHostRows(host, x, y, names)).toBeLessThanOrEqual(1e-6);
    expect(rowDiff(y, 1, x)).toBe(0); // base row: the input, exactly
    const ya = hostReference(host, x, 'a');
    expect(maxAbsDiff(ya, x)).toBeGreaterThan(1e-2); // non-trivial adapters
  });

  it('B-245 one pass: post-norm adapters with gelu, and 3-D input', () => {
    const cfg = linearCfg({ normPosition: 'post', activation: 'gelu' });
    const host = hostSetup({ p: cfg, q: { ...cfg, dim: 5 }, r: { ...cfg, dim: 9 } });
    const x = tf.reshape(makeX(12), [4, 3, 50]);
    const names = ['q', 'p', '__base__', 'r'];
    const { y, chains } = hostPerSample(host, x, names);
    expect(chains).toBe(0);
    expect(y.shape).toEqual([4, 3, 50]);
    expect(checkHostRows(host, x, y, names)).toBeLessThanOrEqual(1e-6);
  });

  it('B-245 grouped path: incompatible adapters (pre and post norm) run one chain per group and still match', () => {
    const host = hostSetup({ a: linearCfg(), b: linearCfg({ normPosition: 'post' }) });
    const x = makeX(4);
    const names = ['b', 'a', '__base__', 'b'];
    const { y, chains } = hostPerSample(host, x, names);
    expect(chains).toBe(3);
    expect(checkHostRows(host, x, y, names)).toBeLessThanOrEqual(1e-6);
  });

  it('B-248 residual adapters a and b, adapterNames [[a, b], b]: row 0 runs the chain a→b, row 1 only b (grouped path)', () => {
    const host = hostSetup({ a: linearCfg(), b: linearCfg({ dim: 8 }) });
    const x = makeX(2);
    const { y, chains } = hostPerSample(host, x, [['a', 'b'], 'b']);
    expect(chains).toBe(2);
    const yab = hostReference(host, x, ['a', 'b']);
    const yb = hostReference(host, x, 'b');
    expect(rowDiff(y, 0, yab)).toBeLessThanOrEqual(1e-6);
    expect(rowDiff(y, 1, yb)).toBeLessThanOrEqual(1e-6);
    expect(rowDiff(yab, 0, yb)).toBeGreaterThan(1e-3); // the chain differs from b alone
  });

  it('B-246 on hosts: wrong length → BATCH_SELECTION naming both numbers; unknown name → UNKNOWN_ADAPTER listing valid names and __base__', () => {
    const host = hostSetup({ a: linearCfg() });
    const x = makeX(4);
    const err = thrown(() => host.forwardEnabledAdapters(x, { adapterNames: ['a', 'a', 'a'] }));
    expect(err.code).toBe('BATCH_SELECTION');
    expect(err.message).toContain('3');
    expect(err.message).toContain('4');
    const err2 = thrown(() => host.forwardEnabledAdapters(x, { adapterNames: ['a', 'zz', 'a', 'a'] }));
    expect(err2.code).toBe('UNKNOWN_ADAPTER');
    expect(err2.message).toContain('__base__');
    expect(err2.message).toContain('a');
  });

  it('B-250 on hosts: a disabled adapter named in adapterNames is applied (one pass) and stays disabled', () => {
    const host = hostSetup({ a: linearCfg(), b: linearCfg({ dim: 4 }) });
    host.setEnabledAdapters('b', false);
    const x = makeX(3);
    const names = ['b', 'a', 'b'];
    const { y, chains } = hostPerSample(host, x, names);
    expect(chains).toBe(0);
    expect(host.getEnabledAdapters()).toEqual(['a']);
    expect(checkHostRows(host, x, y, names)).toBeLessThanOrEqual(1e-6);
    expect(host.getEnabledAdapters()).toEqual(['a']);
  });

  it('attention host (transformer block), insertion points: linear adapters run in one pass at post and pass through at mha', () => {
    seedSpec();
    const block = new TransformerEncoderBlockAdapter({ dModel: 16, nHead: 2, dFF: 32 });
    block.addAdapter('a', { type: 'linear', inFeatures: 16, dim: 8 });
    block.addAdapter('b', { type: 'linear', inFeatures: 16, dim: 3 });
    randomizeAdapters(block, ['a', 'b']);
    block.eval();
    const x = tf.reshape(makeX(12, 16), [4, 3, 16]);
    const names = ['b', '__base__', 'a', 'b'];
    const calls = countCalls(block, 'forwardAdapterChain');
    const mha = block.forwardEnabledAdapters({ x, loc: 'mha' }, { adapterNames: names });
    const post = block.forwardEnabledAdapters({ x, loc: 'post' }, { adapterNames: names });
    expect(calls.count).toBe(0);
    calls.restore();
    expect(mha.x).toBe(x);
    const refs = new Map<string, Tensor>();
    for (const n of ['a', 'b', '__base__']) {
      block.setEnabledAdapters(null, false);
      if (n !== '__base__') block.setEnabledAdapters(n, true);
      refs.set(n, block.forwardEnabledAdapters({ x, loc: 'post' }).x as Tensor);
    }
    names.forEach((n, i) => expect(rowDiff(post.x as Tensor, i, refs.get(n)!)).toBeLessThanOrEqual(1e-6));
  });

  it('B-247 on hosts, training (one pass, no stochastic depth or L2): only the selected adapter gets gradients', () => {
    const host = hostSetup({ a: linearCfg(), b: linearCfg({ dim: 8 }) });
    host.train();
    const x = makeX(4);
    const named = host.namedParameters().filter(([k]) => k.startsWith('adapter_layer.'));
    const pathOf = new Map(named.map(([k, v]) => [v.name, k]));
    const calls = countCalls(host, 'forwardAdapterChain');
    const { value, grads } = tf.variableGrads(
      () =>
        tf.sum(
          host.forwardEnabledAdapters(x, { adapterNames: ['a', 'a', '__base__', '__base__'] }),
        ) as tf.Scalar,
      named.map(([, v]) => v),
    );
    expect(calls.count).toBe(0);
    calls.restore();
    value.dispose();
    const byPath = new Map(Object.entries(grads).map(([n, g]) => [pathOf.get(n)!, g]));
    const absSum = (g: Tensor) => tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0]!);
    for (const [k] of named) {
      const g = byPath.get(k);
      if (k.startsWith('adapter_layer.b.')) {
        if (g) expect(absSum(g), k).toBe(0);
      } else {
        expect(g, k).toBeDefined();
        expect(absSum(g!), k).toBeGreaterThan(0);
      }
    }
    for (const g of Object.values(grads)) g.dispose();
  });

  it('training with L2 on: the grouped path registers one L2 term per (adapter, group) with B = group size', () => {
    const l2 = { type: 'residualAdd', l2Lambda: 0.1 };
    const host = hostSetup({
      a: linearCfg({ adapterStrategy: l2 }),
      b: linearCfg({ dim: 8, adapterStrategy: l2 }),
    });
    const x = makeX(4);
    const expected = (n: string, rows: number[]) =>
      tf.tidy(() => {
        const out = host.getAdapterModule(n)!.forward(x) as Tensor;
        const sq = tf.sum(tf.square(out), 1).dataSync();
        return (0.1 * rows.reduce((s, r) => s + sq[r]!, 0)) / rows.length;
      });
    const wantA = expected('a', [0, 2]);
    const wantB = expected('b', [1]);
    host.train();
    resetRegistry(host);
    const { y, chains } = hostPerSample(host, x, ['a', 'b', 'a', '__base__']);
    expect(chains).toBe(3);
    const lossA = (host.getAdapterModule('a') as unknown as { registry: Record<string, Tensor[]> }).registry[
      'adapter_loss'
    ]!;
    const lossB = (host.getAdapterModule('b') as unknown as { registry: Record<string, Tensor[]> }).registry[
      'adapter_loss'
    ]!;
    expect(lossA).toHaveLength(1);
    expect(lossB).toHaveLength(1);
    expect(lossA[0]!.dataSync()[0]!).toBeCloseTo(wantA, 5);
    expect(lossB[0]!.dataSync()[0]!).toBeCloseTo(wantB, 5);
    host.eval();
    expect(checkHostRows(host, x, y, ['a', 'b', 'a', '__base__'])).toBeLessThanOrEqual(1e-6);
    resetRegistry(host);
  });

  it('training with stochastic depth: one draw per (adapter, group), groups in order', () => {
    let draws = 0;
    const rng: Rng = { next: () => (draws++, 0.1) }; // always kept: contribution scaled by 1/keep = 2
    const sd = { type: 'residualAdd', stochasticDepth: 0.5 };
    const host = hostSetup(
      { a: linearCfg({ adapterStrategy: sd }), b: linearCfg({ dim: 8 }) },
      { a: { rng } },
    );
    draws = 0; // the injected rng also drew the initial weights
    const x = makeX(4);
    const outA = host.getAdapterModule('a')!.forward(x) as Tensor;
    host.train();
    const { y, chains } = hostPerSample(host, x, [['a', 'b'], 'a', '__base__', ['a', 'b']]);
    expect(chains).toBe(3);
    expect(draws).toBe(2); // groups [a, b] and [a]
    const want = tf.add(x, tf.mul(outA, 2));
    expect(rowDiff(y, 1, want)).toBeLessThanOrEqual(1e-5);
    expect(rowDiff(y, 2, x)).toBe(0);
  });

  afterEach(() => setAccessContext(new AccessContext()));

  it('tensor counts stay flat on hosts (one pass and grouped, eval and training)', () => {
    const host = hostSetup({
      a: linearCfg(),
      b: linearCfg({ dim: 8 }),
      c: linearCfg({ normPosition: 'post' }),
    });
    const x = makeX(4);
    const vars = host
      .namedParameters()
      .filter(([k]) => k.startsWith('adapter_layer.'))
      .map(([, v]) => v);
    // Host forwards run inside the caller's tidy (a model forward); so do these.
    const step = () => {
      host.eval();
      tf.tidy(() => host.forwardEnabledAdapters(x, { adapterNames: ['a', 'b', '__base__', 'a'] })).dispose();
      tf.tidy(() => host.forwardEnabledAdapters(x, { adapterNames: ['a', 'c', ['a', 'b'], 'a'] })).dispose();
      host.train();
      const { value, grads } = tf.variableGrads(
        () =>
          tf.sum(host.forwardEnabledAdapters(x, { adapterNames: ['a', 'b', '__base__', 'a'] })) as tf.Scalar,
        vars,
      );
      value.dispose();
      for (const g of Object.values(grads)) g.dispose();
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
  });
});
