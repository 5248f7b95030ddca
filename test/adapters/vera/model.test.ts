import { afterEach, describe, expect, it, vi } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import {
  PeftModel,
  VeraLinear,
  VeraProjectionPair,
  generateVeraProjections,
  inspectTargets,
  parseVeraConfig,
  veraMethod,
  veraProjectionSizes,
  type VeraConfig,
} from '../../../src/adapters/index.js';
import type { TargetPlan } from '../../../src/adapters/tuners/targets.js';
import { Embedding, Linear } from '../../../src/nn/layers.js';
import { expectClose, thrown } from '../../helpers.js';
import { Holder, TinyLM, makeIds, makeInput, randomize, seed } from '../../fixtures/lora-models.js';

const owned: Array<{ dispose(): void }> = [];
afterEach(() => {
  for (const o of owned.splice(0)) o.dispose();
});

const vera = (extra: Partial<VeraConfig> = {}): VeraConfig => ({ type: 'vera', r: 4, ...extra });

function wrapLm(cfg: VeraConfig, name = 'default'): PeftModel {
  seed();
  const model = new TinyLM();
  model.eval();
  const peft = PeftModel.wrap(model, cfg, { adapterName: name });
  owned.push(peft);
  return peft;
}

function sharedOf(peft: PeftModel, name: string): VeraProjectionPair {
  const s = peft.adapterRecord(name).shared;
  if (!(s instanceof VeraProjectionPair)) throw new Error(`adapter '${name}' holds no projections`);
  return s;
}

function bytes(t: Tensor): number[] {
  return Array.from(new Uint8Array((t.dataSync() as Float32Array).slice().buffer));
}

describe('the vera tuner method on a model', () => {
  it('B-341 at init outputs equal the base exactly; only the λ vectors are trainable, Σ (r + out) of them', () => {
    seed();
    const base = new TinyLM();
    base.eval();
    const ids = makeIds();
    const y0 = base.forward(ids);
    const want = Array.from(y0.dataSync());
    y0.dispose();
    const peft = PeftModel.wrap(base, vera({ targetModules: ['q_proj', 'fc1'], r: 5 }));
    owned.push(peft, ids);
    const y = peft.forward(ids) as Tensor;
    expect(Array.from(y.dataSync())).toEqual(want);
    y.dispose();
    const trainable = peft.model.namedParameters().filter(([, p]) => p.trainable);
    expect(trainable.map(([k]) => k).sort()).toEqual([
      'model.layers.0.mlp.fc1.vera_lambda_b.default',
      'model.layers.0.mlp.fc1.vera_lambda_d.default',
      'model.layers.0.self_attn.q_proj.vera_lambda_b.default',
      'model.layers.0.self_attn.q_proj.vera_lambda_d.default',
      'model.layers.1.mlp.fc1.vera_lambda_b.default',
      'model.layers.1.mlp.fc1.vera_lambda_d.default',
      'model.layers.1.self_attn.q_proj.vera_lambda_b.default',
      'model.layers.1.self_attn.q_proj.vera_lambda_d.default',
    ]);
    // q_proj 8 → 8, fc1 8 → 16, two layers each: Σ (r + out) = 2·(5 + 8) + 2·(5 + 16).
    const count = trainable.reduce((n, [, p]) => n + p.size, 0);
    expect(count).toBe(2 * (5 + 8) + 2 * (5 + 16));
    expect(peft.numParameters({ trainableOnly: true })).toBe(count);
  });

  it('B-342 two models with the same projectionPrngKey hold bit-identical A and B; another key gives others', () => {
    const a = wrapLm(vera({ targetModules: ['q_proj', 'fc1'], projectionPrngKey: 11 }));
    const b = wrapLm(vera({ targetModules: ['q_proj', 'fc1'], projectionPrngKey: 11 }));
    const c = wrapLm(vera({ targetModules: ['q_proj', 'fc1'], projectionPrngKey: 12 }));
    const [pa, pb, pc] = [a, b, c].map((p) => sharedOf(p, 'default'));
    expect(bytes(pa!.a)).toEqual(bytes(pb!.a));
    expect(bytes(pa!.b)).toEqual(bytes(pb!.b));
    expect(bytes(pa!.a)).not.toEqual(bytes(pc!.a));
    expect(bytes(pa!.b)).not.toEqual(bytes(pc!.b));
    // The shared pair has the largest sizes over the targets (q_proj 8 → 8, fc1 8 → 16) and is the key's draw.
    expect(pa!.a.shape).toEqual([4, 8]);
    expect(pa!.b.shape).toEqual([16, 4]);
    const g = generateVeraProjections(11, 4, 8, 16);
    expect(Array.from(pa!.a.dataSync())).toEqual(Array.from(g.a));
    expect(Array.from(pa!.b.dataSync())).toEqual(Array.from(g.b));
  });

  it('B-345 layers of different shapes share one pair, each sliced to its shape; r above every layer size is valid', () => {
    seed(2);
    const model = new Holder({
      up: new Linear({ inFeatures: 3, outFeatures: 7 }),
      down: new Linear({ inFeatures: 7, outFeatures: 2 }),
    });
    const peft = PeftModel.wrap(model, vera({ targetModules: ['up', 'down'], r: 10, projectionPrngKey: 3 }));
    owned.push(peft);
    const pair = sharedOf(peft, 'default');
    expect(pair.a.shape).toEqual([10, 7]);
    expect(pair.b.shape).toEqual([7, 10]);
    const up = model.getSubmodule('up') as VeraLinear;
    const down = model.getSubmodule('down') as VeraLinear;
    expect(up.info.get('default')!.projections).toBe(pair);
    expect(down.info.get('default')!.projections).toBe(pair);
    for (const l of [up, down]) {
      randomize(l.vera_lambda_b.get('default')!, 1);
      randomize(l.vera_lambda_d.get('default')!, 2);
    }
    const x = makeInput(4, 3);
    const y = peft.forward(x) as Tensor;
    const want = tf.tidy(() => {
      const layerOut = (l: VeraLinear, h: Tensor) => {
        const a = tf.slice(pair.a, [0, 0], [10, l.inFeatures]);
        const b = tf.slice(pair.b, [0, 0], [l.outFeatures, 10]);
        const base = tf.add(tf.matMul(h, l.weight, false, true), l.bias!);
        const d = tf.mul(tf.matMul(h, a, false, true), l.vera_lambda_d.get('default')!);
        return tf.add(base, tf.mul(tf.matMul(d, b, false, true), l.vera_lambda_b.get('default')!));
      };
      return layerOut(down, layerOut(up, x));
    });
    expectClose(y, want, 1e-5);
    owned.push(x, y, want);
  });

  it('each adapter has its own pair from its own key; deleting an adapter or unloading frees the projections', () => {
    const peft = wrapLm(vera({ targetModules: ['q_proj'], projectionPrngKey: 1 }), 'a');
    const before = tf.memory().numTensors;
    peft.addAdapter('b', vera({ targetModules: ['q_proj', 'fc1'], r: 3, projectionPrngKey: 2 }));
    expect(sharedOf(peft, 'b').a.shape).toEqual([3, 8]);
    expect(sharedOf(peft, 'b').b.shape).toEqual([16, 3]);
    expect(bytes(sharedOf(peft, 'a').a)).toEqual(
      Array.from(new Uint8Array(generateVeraProjections(1, 4, 8, 8).a.buffer)),
    );
    peft.deleteAdapter('b');
    expect(tf.memory().numTensors).toBe(before);
    const pair = sharedOf(peft, 'a');
    peft.unload();
    expect(pair.a.isDisposed && pair.b.isDisposed).toBe(true);
  });

  it('a failed addAdapter leaves no projection behind', () => {
    const peft = wrapLm(vera({ targetModules: ['q_proj'] }), 'a');
    const before = tf.memory().numTensors;
    const e = thrown(() => peft.addAdapter('b', vera({ targetModules: ['nope'] })));
    expect(e.code).toBe('TARGET_NOT_FOUND');
    expect(tf.memory().numTensors).toBe(before);
    expect(peft.adapterNames()).toEqual(['a']);
  });

  it('targets default to the model’s LoRA targets; a non-Linear target → UNSUPPORTED_TARGET naming it', () => {
    seed();
    const report = inspectTargets(new TinyLM(), { type: 'vera' });
    expect(report.matched.map((m) => m.path)).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.self_attn.v_proj',
      'model.layers.1.self_attn.q_proj',
      'model.layers.1.self_attn.v_proj',
    ]);
    expect(report.matched[0]!.r).toBe(256);
    const e = thrown(() => PeftModel.wrap(new TinyLM(), vera({ targetModules: ['embed_tokens'] })));
    expect(e.code).toBe('UNSUPPORTED_TARGET');
    expect(e.message).toContain('model.embed_tokens');
    expect(e.message).toContain('VeRA');
    expect(
      veraMethod.canWrap(new Embedding({ numEmbeddings: 3, embeddingDim: 2 }), parseVeraConfig(vera())),
    ).toBe(false);
  });

  it("bias 'vera_only' trains the wrapped layers' biases, 'all' every bias", () => {
    const only = wrapLm(vera({ targetModules: ['q_proj'], bias: 'vera_only' }));
    const names = only.model
      .namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([k]) => k);
    expect(names).toContain('model.layers.0.self_attn.q_proj.bias');
    expect(names).not.toContain('model.layers.0.self_attn.k_proj.bias');
    const all = wrapLm(vera({ targetModules: ['q_proj'], bias: 'all' }));
    expect(all.model.namedParameters().find(([k]) => k === 'lm_head.bias')![1].trainable).toBe(true);
  });

  it('veraProjectionSizes: the largest input and output over the planned targets, transposed with fanInFanOut', () => {
    const plan = {
      planned: [
        { candidate: { base: new Linear({ inFeatures: 3, outFeatures: 9 }) } },
        { candidate: { base: new Linear({ inFeatures: 5, outFeatures: 2 }) } },
      ],
    } as unknown as TargetPlan;
    expect(veraProjectionSizes(plan, false)).toEqual({ maxIn: 5, maxOut: 9 });
    expect(veraProjectionSizes(plan, true)).toEqual({ maxIn: 9, maxOut: 5 });
  });

  it('per-sample selection runs each row with its own adapter, in one pass of the model', () => {
    const peft = wrapLm(vera({ targetModules: ['q_proj', 'v_proj'], projectionPrngKey: 1 }), 'a');
    peft.addAdapter('b', vera({ targetModules: ['q_proj', 'v_proj'], projectionPrngKey: 2 }));
    for (const [k, p] of peft.model.namedParameters())
      if (k.includes('vera_lambda_b')) randomize(p, k.length);
    const ids = makeIds(3, 4);
    owned.push(ids);
    const spy = vi.spyOn(peft.model, 'forward');
    const mixed = peft.forward(ids, { adapterNames: ['a', '__base__', 'b'] }) as Tensor;
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
    const rows: Tensor[] = [];
    for (const [i, sel] of [
      [0, ['a']],
      [1, []],
      [2, ['b']],
    ] as const) {
      peft.setActiveAdapters(['a', 'b']);
      const run = () => peft.forward(ids) as Tensor;
      if (sel.length) peft.setActiveAdapters([...sel]);
      const full = sel.length ? run() : peft.withAdaptersDisabled(run);
      rows.push(tf.slice(full, i, 1));
      full.dispose();
    }
    const want = tf.concat(rows, 0);
    expectClose(mixed, want, 1e-6);
    owned.push(mixed, want, ...rows);
  });

  it('per-sample selection in training: an adapter gets gradient only from its own rows', () => {
    const peft = wrapLm(vera({ targetModules: ['q_proj'], projectionPrngKey: 1 }), 'a');
    peft.addAdapter('b', vera({ targetModules: ['q_proj'], projectionPrngKey: 2 }));
    peft.train();
    for (const [k, p] of peft.model.namedParameters())
      if (k.includes('vera_lambda_b')) randomize(p, k.length);
    const ids = makeIds(2, 4);
    owned.push(ids);
    const lambdas = peft.model.namedParameters().filter(([k]) => k.includes('vera_lambda'));
    const rowMask = tf.tensor([1, 0], [2, 1, 1]); // the loss sees row 0 (adapter a) only
    owned.push(rowMask);
    const { grads, value } = tf.variableGrads(
      () =>
        tf.sum(
          tf.mul(tf.square(peft.forward(ids, { adapterNames: ['a', 'b'] }) as Tensor), rowMask),
        ) as tf.Scalar,
      lambdas.map(([, p]) => p),
    );
    value.dispose();
    const norms = Object.fromEntries(
      lambdas.map(([k, p]) => [k, tf.tidy(() => tf.sum(tf.abs(grads[p.name]!)).dataSync()[0]!)]),
    );
    for (const g of Object.values(grads)) g.dispose();
    for (const [k, n] of Object.entries(norms)) {
      if (k.endsWith('.a')) expect(n, k).toBeGreaterThan(0);
      else expect(n, k).toBe(0);
    }
  });

  it('training steps leak no tensor and move only the λ vectors', () => {
    const peft = wrapLm(vera({ targetModules: ['q_proj', 'fc1'], veraDropout: 0.1 }));
    peft.train();
    const ids = makeIds();
    owned.push(ids);
    const vars = peft.model
      .namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([, p]) => p);
    const frozen = peft.model
      .namedParameters()
      .find(([k]) => k === 'model.layers.0.self_attn.q_proj.weight')![1];
    const w0 = Array.from(frozen.dataSync());
    const opt = tf.train.adam(0.05);
    const step = () => {
      const loss = opt.minimize(
        () => tf.mean(tf.square(peft.forward(ids) as Tensor)) as tf.Scalar,
        true,
        vars,
      );
      loss?.dispose();
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    expect(Array.from(frozen.dataSync())).toEqual(w0);
    const lb = peft.model.namedParameters().find(([k]) => k.endsWith('q_proj.vera_lambda_b.default'))![1];
    expect(Array.from(lb.dataSync()).some((v) => v !== 0)).toBe(true);
  });
});
