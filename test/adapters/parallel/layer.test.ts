/**
 * The parallel / scaled-parallel bottleneck adapter (He et al. 2021, type `parallel`): config
 * validation, identity at initialisation, the block formula `h_post = h + FFN(LN(h)) + s·A(h)` with
 * non-zero weights, placement (`adapterLocations`), per-sample selection through both insertion
 * points, and training on a tiny decoder-only model.
 */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor, type Variable } from '../../../src/backend/tf.js';
import {
  AccessContext,
  ParallelAdapter,
  TransformerDecoderBlockAdapter,
  buildAdapter,
  getAdapterTypeSchema,
  listAdapterTypes,
  resetRegistry,
  setAccessContext,
  type AdapterPointInput,
} from '../../../src/adapters/index.js';
import { CharLM } from '../../../src/models/char-lm.js';
import { createRng, manualSeed } from '../../../src/rng.js';
import { normal } from '../../../src/nn/init.js';
import { AdamW } from '../../../src/train/adamw.js';
import { crossEntropy } from '../../../src/train/losses.js';
import { maxAbsDiff, thrown } from '../../helpers.js';

const D = 16;

/** Sets a variable to seeded N(0, std²) values. */
function randomize(v: Variable, s: number, std = 0.3): void {
  const t = normal(v.shape as number[], std, createRng(s));
  v.assign(t);
  t.dispose();
}

/** A decoder block (d 16, 2 heads, FFN 32) that is an attention host. */
function makeBlock(): TransformerDecoderBlockAdapter {
  manualSeed(3);
  return new TransformerDecoderBlockAdapter({ dModel: D, nHead: 2, dFF: 32 });
}

/** `[2, 5, 16]` standard-normal input. */
function makeInput(b = 2, t = 5): Tensor {
  return normal([b, t, D], 1, createRng(11));
}

/** A tiny character LM (vocab 12, d 16, 2 layers). */
function tinyLM(): CharLM {
  manualSeed(5);
  return new CharLM({ vocabSize: 12, dModel: D, numLayers: 2, nHead: 2, dFF: 32, maxLen: 8 });
}

function ids(b = 4, t = 8, s = 1): Tensor {
  const rng = createRng(s);
  return tf.tensor2d(
    Array.from({ length: b }, () => Array.from({ length: t }, () => Math.floor(rng.next() * 12))),
    [b, t],
    'int32',
  );
}

describe('parallel adapter: config', () => {
  it('is a registered type with the documented defaults', () => {
    expect(listAdapterTypes()).toContain('parallel');
    const f = getAdapterTypeSchema('parallel').fields;
    expect(Object.keys(f).sort()).toEqual(
      ['activation', 'adapterStrategy', 'dim', 'dropout', 'enabled', 'inFeatures', 'scaling', 'type'].sort(),
    );
    expect(f.activation!.default).toBe('relu');
    expect(f.scaling!.default).toBe(1);
    expect(f.dropout!.default).toBe(0);
    expect(f.inFeatures!.required).toBe(true);
    expect(f.dim!.required).toBe(true);
    const a = buildAdapter({ type: 'parallel', inFeatures: D, dim: 4 }) as ParallelAdapter;
    expect(a).toBeInstanceOf(ParallelAdapter);
    expect([...a.stateDict().keys()]).toEqual(['down.weight', 'down.bias', 'up.weight', 'up.bias']);
    expect(a.numParameters()).toBe(2 * D * 4 + D + 4);
    expect(a.adapterStrategy!.constructor.name).toBe('MhaResidualAddStrategy');
  });

  it('invalid configs → INVALID_CONFIG naming the field', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ inFeatures: D }, 'dim'],
      [{ dim: 4 }, 'inFeatures'],
      [{ inFeatures: D, dim: 0 }, 'dim'],
      [{ inFeatures: D, dim: 2.5 }, 'dim'],
      [{ inFeatures: D, dim: 4, scaling: 0 }, 'scaling'],
      [{ inFeatures: D, dim: 4, scaling: -4 }, 'scaling'],
      [{ inFeatures: D, dim: 4, scaling: Infinity }, 'scaling'],
      [{ inFeatures: D, dim: 4, scaling: '4' }, 'scaling'],
      [{ inFeatures: D, dim: 4, activation: 'tanh' }, 'activation'],
      [{ inFeatures: D, dim: 4, dropout: 1.5 }, 'dropout'],
      [{ inFeatures: D, dim: 4, normPosition: 'pre' }, 'normPosition'],
    ];
    for (const [cfg, fieldName] of cases) {
      const err = thrown(() => buildAdapter({ type: 'parallel', ...cfg }));
      expect(err.code, JSON.stringify(cfg)).toBe('INVALID_CONFIG');
      expect(err.message, JSON.stringify(cfg)).toContain(fieldName);
    }
    const act = thrown(() => buildAdapter({ type: 'parallel', inFeatures: D, dim: 4, activation: 'tanh' }));
    expect(act.message).toContain('relu');
    expect(act.message).toContain('gelu');
  });

  it('a residualAdd or returnResult strategy → INVALID_CONFIG pointing to mhaResidualAdd; the failed add leaves no trace', () => {
    const block = makeBlock();
    for (const type of ['residualAdd', 'returnResult']) {
      const err = thrown(() =>
        block.addAdapter('pa', { type: 'parallel', inFeatures: D, dim: 4, adapterStrategy: { type } }),
      );
      expect(err.code).toBe('INVALID_CONFIG');
      expect(err.message).toContain('mhaResidualAdd');
    }
    expect(block.heldAdapterNames()).toEqual([]);
    block.addAdapter('pa', {
      type: 'parallel',
      inFeatures: D,
      dim: 4,
      adapterStrategy: { type: 'mhaResidualAdd', stochasticDepth: 0.1 },
    });
    expect(block.heldAdapterNames()).toEqual(['pa']);
  });
});

describe('parallel adapter in transformer blocks', () => {
  it('identity at initialisation: a model’s output is bitwise unchanged; adapterLocations reports mha and post', () => {
    const lm = tinyLM();
    lm.eval();
    const x = ids();
    const y0 = lm.forward(x);
    lm.addAdapter('pa', { type: 'parallel', inFeatures: 999, dim: 8, scaling: 4 }); // width corrected to 16
    const y1 = lm.forward(x);
    expect(maxAbsDiff(y0, y1)).toBe(0);
    const block = lm.getChild('decoder')!.getChild('layers')!.getChild('0') as TransformerDecoderBlockAdapter;
    expect(block.adapterLocations('pa')).toEqual(['mha', 'post']);
    expect((block.getAdapterModule('pa') as ParallelAdapter).inFeatures).toBe(D);
    // the branch is exactly zero at init: up is zero-initialised
    const up = (block.getAdapterModule('pa') as ParallelAdapter).up;
    expect(Array.from(up.weight.dataSync()).every((v) => v === 0)).toBe(true);
  });

  it('with non-zero weights a block computes h_post = h + FFN(LN(h)) + s·up(relu(down(h))) for the FFN input h', () => {
    const block = makeBlock();
    block.addAdapter('pa', { type: 'parallel', inFeatures: D, dim: 8, scaling: 4 });
    const pa = block.getAdapterModule('pa') as ParallelAdapter;
    [pa.down.weight, pa.down.bias!, pa.up.weight, pa.up.bias!].forEach((v, i) => randomize(v, 30 + i));
    block.eval();
    const x = makeInput();
    // h (the FFN input, the 'mha' value) and the block output without the adapter
    const seen: Tensor[] = [];
    const run = block.runAdapterPoint.bind(block);
    block.runAdapterPoint = (loc, t, ctx) => {
      if (loc === 'mha') seen.push(tf.keep(tf.clone(t))); // the block's scope disposes t
      return run(loc, t, ctx);
    };
    block.setEnabledAdapters('pa', false);
    const base = block.forward(x); // h + FFN(LN(h))
    const h = seen[0]!;
    block.setEnabledAdapters('pa', true);
    const y = block.forward(x);
    const branch = tf.tidy(() => {
      const [n, t] = [h.shape[0]!, h.shape[1]!];
      const h2 = tf.reshape(h, [n * t, D]);
      const down = tf.relu(tf.add(tf.matMul(h2, pa.down.weight, false, true), pa.down.bias!));
      const up = tf.add(tf.matMul(down, pa.up.weight, false, true), pa.up.bias!);
      return tf.reshape(tf.mul(up, 4), [n, t, D]);
    });
    expect(maxAbsDiff(y, tf.add(base, branch))).toBeLessThan(1e-5);
    expect(maxAbsDiff(y, base)).toBeGreaterThan(1e-2);
    // called directly, the adapter returns the branch
    expect(maxAbsDiff(pa.forward(h), branch)).toBeLessThan(1e-5);
    expect(maxAbsDiff(pa.forward({ x: h }), branch)).toBeLessThan(1e-5);
    expect(thrown(() => pa.forward({ value: h } as unknown as Tensor)).code).toBe('INVALID_INPUT');
  });

  it('chains with linear adapters at post in execution order (parallel branch added, then the linear adapter on the sum)', () => {
    const block = makeBlock();
    block.addAdapter('pa', { type: 'parallel', inFeatures: D, dim: 8 });
    block.addAdapter('lin', { type: 'linear', inFeatures: D, dim: 4 });
    let i = 0;
    for (const n of ['pa', 'lin'])
      for (const p of block.getAdapterModule(n)!.parameters()) randomize(p, 50 + i++);
    block.eval();
    const x = makeInput();
    const seen: Tensor[] = [];
    const run = block.runAdapterPoint.bind(block);
    block.runAdapterPoint = (loc, t, ctx) => {
      seen.push(tf.keep(tf.clone(t)));
      return run(loc, t, ctx);
    };
    const y = block.forward(x);
    const [h, hPost] = [seen[0]!, seen[1]!];
    const pa = block.getAdapterModule('pa')!;
    const lin = block.getAdapterModule('lin')!;
    const afterPa = tf.add(hPost, pa.forward(h) as Tensor);
    const want = tf.add(afterPa, lin.forward(afterPa) as Tensor);
    expect(maxAbsDiff(y, want)).toBeLessThan(1e-5);
  });

  it("'post' without an 'mha' input in the same forward → INVALID_INPUT naming the adapter", () => {
    const block = makeBlock();
    block.addAdapter('pa', { type: 'parallel', inFeatures: D, dim: 4 });
    const err = thrown(() => block.runAdapterPoint('post', makeInput()));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toContain("'pa'");
    // an 'mha' point that never reached 'post' (a failed forward) leaves nothing behind
    const pa = block.getAdapterModule('pa') as ParallelAdapter;
    randomize(pa.up.weight, 90);
    block.eval();
    const x = makeInput();
    const clean = block.forward(x);
    block.runAdapterPoint('mha', tf.mul(x, 3)); // stale input, still alive
    expect(maxAbsDiff(block.forward(x), clean)).toBe(0);
  });

  it('per-sample selection through both insertion points (grouped path) matches separate runs, and the stash is consumed', () => {
    const block = makeBlock();
    block.addAdapter('pa', { type: 'parallel', inFeatures: D, dim: 8, scaling: 4 });
    block.addAdapter('lin', { type: 'linear', inFeatures: D, dim: 4 });
    let i = 0;
    for (const n of ['pa', 'lin'])
      for (const p of block.getAdapterModule(n)!.parameters()) randomize(p, 70 + i++);
    block.eval();
    const h = makeInput(4, 3);
    const hPost = tf.mul(h, 1.5);
    const sel = ['pa', '__base__', ['pa', 'lin'], 'pa'];
    const run = (names?: Array<string | string[]>) =>
      tf.tidy(() => {
        const opts = names ? { adapterNames: names } : {};
        const m = block.forwardEnabledAdapters({ x: h, loc: 'mha' } as AdapterPointInput, opts);
        expect(maxAbsDiff(m.x as Tensor, h)).toBe(0); // 'mha' leaves the value unchanged
        return block.forwardEnabledAdapters({ x: hPost, loc: 'post' } as AdapterPointInput, opts).x as Tensor;
      });
    const y = run(sel);
    const refs = new Map<string, Tensor>();
    for (const s of [['pa'], [], ['pa', 'lin']]) {
      block.setEnabledAdapters(null, false);
      for (const n of s) block.setEnabledAdapters(n, true);
      refs.set(JSON.stringify(s), run());
    }
    sel.forEach((s, r) => {
      const key = JSON.stringify(Array.isArray(s) ? s : s === '__base__' ? [] : [s]);
      const ref = refs.get(key)!;
      expect(maxAbsDiff(tf.slice(y, r, 1), tf.slice(ref, r, 1)), `row ${r}`).toBeLessThan(1e-5);
    });
    // every stashed input was taken: a lone 'post' fails again
    expect(thrown(() => block.runAdapterPoint('post', hPost)).code).toBe('INVALID_INPUT');
  });

  it('trains on a tiny decoder-only model: only the parallel adapter is trainable and the loss falls; the L2 loss is registered per block', () => {
    setAccessContext(new AccessContext());
    const lm = tinyLM();
    lm.addAdapter('pa', {
      type: 'parallel',
      inFeatures: D,
      dim: 8,
      scaling: 4,
      adapterStrategy: { type: 'mhaResidualAdd', l2Lambda: 1e-4 },
    });
    lm.freeze();
    lm.unfreezeEnabledAdapters();
    lm.train();
    const named = lm.namedParameters().filter(([, p]) => p.trainable);
    expect(named.length).toBe(2 * 4); // two blocks × down.{weight,bias}, up.{weight,bias}
    expect(named.every(([k]) => /adapter_layer\.pa\.(down|up)\.(weight|bias)$/.test(k))).toBe(true);
    const x = ids(4, 8, 2);
    const targets = ids(4, 8, 3);
    const opt = new AdamW(named, { lr: 1e-2, weightDecay: 0 });
    const vars = named.map(([, p]) => p);
    const losses: number[] = [];
    const before = { tensors: 0 };
    for (let step = 0; step < 30; step++) {
      if (step === 2) before.tensors = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() => crossEntropy(lm.forward(x), targets), vars);
      losses.push(value.dataSync()[0]!);
      opt.step(grads);
      tf.dispose([value, ...Object.values(grads)]);
      const aux = lm.collectAuxiliaryLosses({ reset: true });
      if (step === 0) expect(Object.keys(aux.byPath)).toHaveLength(2); // one L2 term per block
      tf.dispose([...Object.values(aux.byPath), ...(aux.total === 0 ? [] : [aux.total])]);
    }
    expect(tf.memory().numTensors).toBe(before.tensors);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! - 0.1);
    resetRegistry(lm);
    opt.dispose();
  });
});
