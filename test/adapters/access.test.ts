/**
 * SPEC §3.5 Auxiliary losses (B-062 … B-074): the L2 loss of residual strategies, the per-module
 * auxiliary-tensor registry, access configs and flags, and `collectAuxiliaryLosses`.
 */
import { modelGuidOf } from '../../src/adapters/model-guid.js';
import { beforeEach, describe, expect, it } from 'vitest';
import { tf, type Tensor, type Variable } from '../../src/backend/tf.js';
import {
  AccessContext,
  getAccessContext,
  getModuleRegistry,
  registerAccessibleTensor,
  resetRegistry,
  setAccessContext,
  LinearAdapter,
  ResidualAddStrategy,
  type AdapterModule,
  type LinearAdapterConfig,
} from '../../src/adapters/index.js';
import { Module } from '../../src/nn/module.js';
import { normal } from '../../src/nn/init.js';
import { createRng } from '../../src/rng.js';
import { AdapterHost, Stub, TestModel, cfgPre, makeX, routing, seed } from '../fixtures/spec-models.js';
import { LayeredModel } from '../fixtures/layered.js';
import { expectClose, meanAbsDiff, thrown, values } from '../helpers.js';

/** `cfgPre` with a residual strategy carrying `l2Lambda` (and optional stochastic depth). */
function l2Cfg(l2Lambda: number, stochasticDepth = 0): LinearAdapterConfig {
  return { ...cfgPre, adapterStrategy: { type: 'residualAdd', l2Lambda, stochasticDepth } };
}

/** A scalar's value. */
function num(t: Tensor): number {
  return t.dataSync()[0]!;
}

/** Makes a linear adapter non-zero: random values in its up projection (`module.3.weight`, pre-norm). */
function makeNonZero(adapter: Module, s = 7): void {
  const w = adapter.stateDict().get('module.3.weight') as Variable;
  w.assign(normal(w.shape as number[], 0.5, createRng(s)));
}

/** A module with a trainable parameter but no auxiliary-tensor registry (not an AdapterModule). */
class NoRegistryAdapter extends Module {
  static override readonly typeName: string = 'NoRegistryAdapter';
  constructor() {
    super();
    this.registerParameter('w', tf.scalar(1));
  }
  override forward(x: Tensor): Tensor {
    return tf.onesLike(x);
  }
}

beforeEach(() => {
  setAccessContext(new AccessContext());
});

describe('§3.5 auxiliary losses', () => {
  it('B-062 l2Lambda 0.01 in training after resetRegistry: access off, output ≈ x, then access on and a zero adapter_loss registered', () => {
    seed();
    const x = makeX();
    const adapter = new LinearAdapter({ inFeatures: 50, dim: 100 });
    adapter.train();
    const strategy = new ResidualAddStrategy({ l2Lambda: 0.01 });
    resetRegistry(adapter);
    expect(getAccessContext().isEnabled(modelGuidOf(adapter))).toBe(false);
    expect(adapter.isAccessEnabled()).toBe(false);

    const out = strategy.forward(x, adapter, { module: adapter }) as Tensor;
    expect(meanAbsDiff(out, x)).toBeLessThan(1e-5);
    expect(adapter.isAccessEnabled()).toBe(true);

    const registry = getModuleRegistry(adapter);
    const first = Object.values(registry)[0]!;
    expect(Object.keys(registry)[0]).toBe('');
    expect(first).toHaveProperty('adapter_loss');
    expect(first['adapter_loss']!.length).toBeGreaterThanOrEqual(1);
    expect(num(first['adapter_loss']![0]!)).toBe(0);
  });

  it('B-063 a Stub output of ones [2, 50] with l2Lambda 0.01 registers 0.5 (per-sample sum of squares averaged over the batch)', () => {
    const x = makeX();
    const stub = new Stub((t) => tf.onesLike(t));
    stub.train();
    const strategy = new ResidualAddStrategy({ l2Lambda: 0.01 });
    const out = strategy.forward(x, stub, { module: stub }) as Tensor;
    expectClose(out, tf.add(x, 1), 1e-6);
    const losses = stub.registry['adapter_loss']!;
    expect(losses).toHaveLength(1);
    expect(losses[0]!.size).toBe(1);
    const v = num(losses[0]!);
    expect(v).toBeCloseTo(0.5, 6);
    expect(Math.abs(v - 0.01)).toBeGreaterThan(0.1); // not the elementwise mean
  });

  it('B-064 two training forwards leave two values in the adapter_loss list', () => {
    const x = makeX();
    const stub = new Stub((t) => tf.onesLike(t));
    const strategy = new ResidualAddStrategy({ l2Lambda: 0.01 });
    strategy.forward(x, stub, { module: stub });
    strategy.forward(x, stub, { module: stub });
    const losses = stub.registry['adapter_loss']!;
    expect(losses).toHaveLength(2);
    expect(losses.map(num)).toEqual([expect.closeTo(0.5, 6), expect.closeTo(0.5, 6)]);
  });

  describe('B-065 no loss is registered', () => {
    const x = makeX();
    const ones = (t: Tensor) => tf.onesLike(t);

    it('B-065 when the host is in eval mode', () => {
      const host = new Module();
      const stub = new Stub(ones);
      host.eval();
      stub.train();
      new ResidualAddStrategy({ l2Lambda: 0.01 }).forward(x, stub, { module: host });
      expect(getModuleRegistry(stub)).toEqual({});
      expect(getAccessContext().isEnabled(modelGuidOf(host))).toBe(false);
    });

    it('B-065 when the adapter is frozen', () => {
      const host = new Module();
      const stub = new Stub(ones);
      stub.freeze();
      expect(host.training).toBe(true);
      new ResidualAddStrategy({ l2Lambda: 0.01 }).forward(x, stub, { module: host });
      expect(getModuleRegistry(stub)).toEqual({});
      expect(getAccessContext().isEnabled(modelGuidOf(host))).toBe(false);
    });

    it('B-065 when computeAdapterLoss is false', () => {
      const host = new Module();
      const stub = new Stub(ones);
      stub.updateAccessCfg({ computeAdapterLoss: false }, modelGuidOf(host));
      new ResidualAddStrategy({ l2Lambda: 0.01 }).forward(x, stub, { module: host });
      expect(getModuleRegistry(stub)).toEqual({});
      expect(getAccessContext().isEnabled(modelGuidOf(host))).toBe(false);
    });

    it('B-065 when l2Lambda = 0', () => {
      const host = new Module();
      const stub = new Stub(ones);
      new ResidualAddStrategy({ l2Lambda: 0 }).forward(x, stub, { module: host });
      expect(getModuleRegistry(stub)).toEqual({});
      expect(getAccessContext().isEnabled(modelGuidOf(host))).toBe(false);
    });
  });

  it('B-066 a positive l2Lambda with an adapter lacking the registry: REGISTRY_UNSUPPORTED in training, no error in eval', () => {
    const x = makeX();
    const adapter = new NoRegistryAdapter();
    const host = new Module();
    const strategy = new ResidualAddStrategy({ l2Lambda: 0.01 });
    const err = thrown(() => strategy.forward(x, adapter, { module: host }));
    expect(err.code).toBe('REGISTRY_UNSUPPORTED');
    expect(err.message).toContain('NoRegistryAdapter');

    host.eval();
    const out = strategy.forward(x, adapter, { module: host }) as Tensor;
    expectClose(out, tf.add(x, 1), 1e-6);
  });

  it('B-067 with stochasticDepth 1 in training the registered loss is 0', () => {
    const x = makeX();
    const stub = new Stub((t) => tf.onesLike(t));
    const strategy = new ResidualAddStrategy({ l2Lambda: 0.01, stochasticDepth: 1 });
    const out = strategy.forward(x, stub, { module: stub }) as Tensor;
    expect(values(out)).toEqual(values(x));
    const losses = stub.registry['adapter_loss']!;
    expect(losses).toHaveLength(1);
    expect(num(losses[0]!)).toBe(0);
  });

  it("B-068 getModuleRegistry keys an adapter's registry as adapter_layer.<name>, the root as '', and omits empty registries", () => {
    seed();
    const x = makeX();
    const host = new AdapterHost();
    host.addAdapter('adapter_0', l2Cfg(0.01));
    host.addAdapter('adapter_1', cfgPre); // no L2: its registry stays empty
    host.train();
    host.forward(x);
    expect(Object.keys(getModuleRegistry(host))).toEqual(['adapter_layer.adapter_0']);
    expect(getModuleRegistry(host)['adapter_layer.adapter_0']).toHaveProperty('adapter_loss');

    registerAccessibleTensor(host, 'root_tensor', tf.scalar(3));
    const reg = getModuleRegistry(host);
    expect(Object.keys(reg).sort()).toEqual(['', 'adapter_layer.adapter_0']);
    expect(num(reg['']!['root_tensor']![0]!)).toBe(3);

    // Emptied registries disappear from the view.
    resetRegistry(host, 'adapter_loss');
    expect(Object.keys(getModuleRegistry(host))).toEqual(['']);
  });

  describe('B-069 gradients of the L2 term inside tf.variableGrads', () => {
    /** Grads of `sum(output) (+ total)` over the encoder adapter's variables. */
    function grads(detach: boolean, withAux: boolean): Tensor[] {
      seed();
      const x = makeX();
      const model = new TestModel(routing('enc'));
      model.addAdapter('adapter_0', l2Cfg(0.5));
      const adapter = model.encoder.getAdapterModule('adapter_0')!;
      makeNonZero(adapter);
      if (detach) model.updateAccessCfg({ detach: true });
      model.train();
      const vars = adapter.trainableParameters();
      expect(vars.length).toBeGreaterThan(0);
      const f = () =>
        tf.tidy(() => {
          const y = model.forward(x);
          const { total } = model.collectAuxiliaryLosses({ reset: true });
          const s = tf.sum(y);
          return (withAux ? tf.add(s, total) : s) as tf.Scalar;
        });
      const { value, grads: g } = tf.variableGrads(f, vars);
      value.dispose();
      // Keyed by variable name, which differs between models: return them in `vars` order.
      return vars.map((v) => g[v.name]!);
    }

    it('B-069 with detach: true the gradients equal those of output.sum() alone', () => {
      const plain = grads(true, false);
      const withAux = grads(true, true);
      expect(withAux.length).toBeGreaterThan(0);
      plain.forEach((g, i) => expectClose(withAux[i]!, g, 1e-6));
    });

    it('B-069 with the default access config the L2 term reaches the adapter parameters', () => {
      const plain = grads(false, false);
      const withAux = grads(false, true);
      const diffs = plain.map((g, i) => meanAbsDiff(withAux[i]!, g));
      expect(Math.max(...diffs)).toBeGreaterThan(1e-4);
    });
  });

  it('B-070 resetRegistry() empties every registry in the subtree and disables access for the GUID', () => {
    seed();
    const x = makeX();
    const model = new TestModel(routing('encdec'));
    model.addAdapter('adapter_0', l2Cfg(0.01));
    model.train();
    model.forward(x);
    registerAccessibleTensor(model, 'root_tensor', tf.scalar(1));
    expect(Object.keys(getModuleRegistry(model)).sort()).toEqual([
      '',
      'decoder.adapter_layer.adapter_0',
      'encoder.adapter_layer.adapter_0',
    ]);
    expect(model.isAccessEnabled()).toBe(true);
    const kept = getModuleRegistry(model)['encoder.adapter_layer.adapter_0']!['adapter_loss']![0]!;

    model.resetRegistry();
    expect(getModuleRegistry(model)).toEqual({});
    expect(model.isAccessEnabled()).toBe(false);
    expect(getAccessContext().isEnabled(modelGuidOf(model))).toBe(false);
    expect(kept.isDisposed).toBe(true);
  });

  it('B-071 resetRegistry(key) removes that key everywhere in the subtree, keeps other keys, and an absent key is no error', () => {
    seed();
    const x = makeX();
    const model = new TestModel(routing('encdec'));
    model.addAdapter('adapter_0', l2Cfg(0.01));
    model.train();
    model.forward(x);
    const encAdapter = model.encoder.getAdapterModule('adapter_0') as AdapterModule;
    encAdapter.registerAccessibleTensor('other', tf.scalar(2));
    registerAccessibleTensor(model, 'other', tf.scalar(3));
    expect(model.isAccessEnabled()).toBe(true);

    model.resetRegistry('adapter_loss');
    const reg = getModuleRegistry(model);
    expect(Object.keys(reg).sort()).toEqual(['', 'encoder.adapter_layer.adapter_0']);
    expect(Object.keys(reg['encoder.adapter_layer.adapter_0']!)).toEqual(['other']);
    expect(Object.keys(reg['']!)).toEqual(['other']);
    expect(model.isAccessEnabled()).toBe(true); // the flag is unchanged by a keyed reset

    // 'other' is absent from the decoder adapter's registry; 'missing' is absent everywhere.
    expect(() => model.resetRegistry('other')).not.toThrow();
    expect(() => model.resetRegistry('missing')).not.toThrow();
    expect(getModuleRegistry(model)).toEqual({});
  });

  it('B-072 setAccessCfg(42) → INVALID_CONFIG; a plain object is accepted; updateAccessCfg merges', () => {
    const model = new TestModel();
    const err = thrown(() => model.setAccessCfg(42 as never));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(thrown(() => model.updateAccessCfg('detach' as never)).code).toBe('INVALID_CONFIG');

    model.setAccessCfg({ detach: true });
    expect(model.accessCfg).toEqual({ detach: true });
    model.updateAccessCfg({ convertToCpu: true });
    expect(model.accessCfg).toEqual({ detach: true, convertToCpu: true });
    // Replacing drops the merged keys.
    model.setAccessCfg({ computeAdapterLoss: false });
    expect(model.accessCfg).toEqual({ computeAdapterLoss: false });
  });

  it('B-073 a layered encoder with l2Lambda 0.01: after resetRegistry and updateAccessCfg, the first registry entry holds a zero adapter_loss', () => {
    seed();
    const x = makeX();
    const model = new LayeredModel({ layers: 2 });
    model.addAdapter('adapter_0', l2Cfg(0.01));
    model.train();
    model.resetRegistry();
    model.updateAccessCfg({ saveEncoderTensors: false }, modelGuidOf(model));
    const out = model.forward(x);
    expect(out.shape).toEqual([2, 50]);

    const reg = getModuleRegistry(model);
    const keys = Object.keys(reg);
    expect(keys).toEqual([
      'encoder.layers.0.adapter_layer.adapter_0',
      'encoder.layers.1.adapter_layer.adapter_0',
    ]);
    const first = reg[keys[0]!]!;
    expect(first).toHaveProperty('adapter_loss');
    expect(num(first['adapter_loss']![0]!)).toBe(0);
    expect(model.isAccessEnabled()).toBe(true);
  });

  it('B-074 collectAuxiliaryLosses().total equals the sum of the registered L2 terms without any other access switch; reset empties the registries', () => {
    seed();
    const x = makeX();
    const lambda = 0.01;
    const model = new TestModel(routing('encdec'));
    model.addAdapter('adapter_0', l2Cfg(lambda));
    const enc = model.encoder.getAdapterModule('adapter_0')!;
    const dec = model.decoder.getAdapterModule('adapter_0')!;
    makeNonZero(enc, 1);
    makeNonZero(dec, 2);
    model.train();
    expect(model.isAccessEnabled()).toBe(false);
    model.forward(x);

    // Independent value: λ · Σ(c²) / B for each adapter's contribution c.
    const l2 = (c: Tensor) => (lambda * tf.sum(tf.square(c)).dataSync()[0]!) / c.shape[0]!;
    const encIn = model.encoder.bn.forward(model.encoder.fc.forward(x));
    const c1 = enc.forward(encIn) as Tensor;
    const decIn = model.decoder.bn.forward(model.decoder.fc.forward(tf.add(encIn, c1)));
    const c2 = dec.forward(decIn) as Tensor;
    const expected = l2(c1) + l2(c2);
    expect(expected).toBeGreaterThan(1e-3);

    const registered = Object.values(getModuleRegistry(model)).flatMap((r) =>
      (r['adapter_loss'] ?? []).map(num),
    );
    expect(registered).toHaveLength(2);

    const { total, byPath } = model.collectAuxiliaryLosses();
    expect(total).not.toBe(0);
    const t = num(total as Tensor);
    expect(t).toBeCloseTo(registered[0]! + registered[1]!, 5);
    expect(Math.abs(t - expected) / expected).toBeLessThan(1e-4);
    expect(Object.keys(byPath).sort()).toEqual([
      'decoder.adapter_layer.adapter_0',
      'encoder.adapter_layer.adapter_0',
    ]);
    // Without reset the registries are kept.
    expect(Object.keys(getModuleRegistry(model))).toHaveLength(2);

    const again = model.collectAuxiliaryLosses({ reset: true });
    expect(num(again.total as Tensor)).toBeCloseTo(t, 6);
    expect(getModuleRegistry(model)).toEqual({});
    expect(model.isAccessEnabled()).toBe(false);
    expect(model.collectAuxiliaryLosses()).toEqual({ total: 0, byPath: {} });

    // With access disabled, registered losses are not collected.
    registerAccessibleTensor(enc, 'adapter_loss', tf.scalar(5));
    expect(model.isAccessEnabled()).toBe(false);
    expect(model.collectAuxiliaryLosses()).toEqual({ total: 0, byPath: {} });
    model.setAccessEnabled(true);
    expect(num(model.collectAuxiliaryLosses().total as Tensor)).toBe(5);
  });
});
