import { beforeEach, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import {
  AdapterModule,
  buildAdapter,
  getAdapterTypeSchema,
  LinearAdapter,
  unfreezeEnabledAdapters,
  withAdapters,
} from '../../src/adapters/index.js';
import { BatchNorm, BatchNorm1d, Linear } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import {
  AdapterHost,
  cfgPost,
  cfgPre,
  makeX,
  seed,
  Stub,
  strategyFn,
  TestModel,
} from '../fixtures/spec-models.js';
import { meanAbsDiff, thrown } from '../helpers.js';

const ADAPTER_PARAMS = 10_100;

let host: AdapterHost;
let x: Tensor;
beforeEach(() => {
  seed();
  host = new AdapterHost();
  x = makeX();
});

describe('module-level adapters (SPEC §2.5, §3.2)', () => {
  it('B-011 adding one adapter raises the trainable parameter count by exactly 10 100', () => {
    const before = host.numParameters({ trainableOnly: true });
    host.addAdapter('adapter_0', cfgPre);
    expect(host.numParameters({ trainableOnly: true }) - before).toBe(ADAPTER_PARAMS);
  });

  it('B-012 adding adapter_0 then adapter_1 raises the count after each add', () => {
    const c0 = host.numParameters();
    host.addAdapter('adapter_0', cfgPre);
    const c1 = host.numParameters();
    host.addAdapter('adapter_1', cfgPre);
    const c2 = host.numParameters();
    expect(c1).toBeGreaterThan(c0);
    expect(c2).toBeGreaterThan(c1);
  });

  it('B-013 a pre-norm adapter leaves the output unchanged', () => {
    const before = host.forward(x);
    host.addAdapter('adapter_0', cfgPre);
    expect(meanAbsDiff(host.forward(x), before)).toBeLessThan(1e-5);
  });

  it('B-014 a post-norm adapter leaves the output unchanged', () => {
    const before = host.forward(x);
    host.addAdapter('adapter_0', cfgPost);
    expect(meanAbsDiff(host.forward(x), before)).toBeLessThan(1e-5);
  });

  it('B-015 two adapters run in insertion order and leave the output unchanged', () => {
    const before = host.forward(x);
    host.addAdapter('adapter_0', cfgPre);
    host.addAdapter('adapter_1', cfgPre);
    const after = host.forward(x);
    expect(host.lastRun).toEqual(['adapter_0', 'adapter_1']);
    expect(meanAbsDiff(after, before)).toBeLessThan(1e-5);
  });

  it('B-016 a disabled adapter does not run', () => {
    const before = host.forward(x);
    host.addAdapter('adapter_0', cfgPre);
    host.addAdapter('adapter_1', cfgPre);
    host.setEnabledAdapters('adapter_0', false);
    const after = host.forward(x);
    expect(host.lastRun).toEqual(['adapter_1']);
    expect(meanAbsDiff(after, before)).toBeLessThan(1e-5);
  });

  it('B-017 disabling then re-enabling adapter_0 keeps the order', () => {
    host.addAdapter('adapter_0', cfgPre);
    host.addAdapter('adapter_1', cfgPre);
    host.setEnabledAdapters('adapter_0', false);
    host.setEnabledAdapters('adapter_0', true);
    host.forward(x);
    expect(host.lastRun).toEqual(['adapter_0', 'adapter_1']);
  });

  it('B-018 adding a held name, bare or prefixed, throws DUPLICATE_ADAPTER naming it as written', () => {
    host.addAdapter('adapter_0', cfgPre);
    const count = host.numParameters();
    for (const name of ['adapter_0', 'enc:adapter_0']) {
      const err = thrown(() => host.addAdapter(name, cfgPre));
      expect(err.code).toBe('DUPLICATE_ADAPTER');
      expect(err.message).toContain(name);
    }
    expect(host.numParameters()).toBe(count);
  });

  it('B-019 globalCfg and global_cfg are reserved names', () => {
    for (const name of ['globalCfg', 'global_cfg']) {
      expect(thrown(() => host.addAdapter(name, cfgPre)).code).toBe('RESERVED_NAME');
    }
    expect(host.isAdapterAvailable()).toBe(false);
  });

  it("B-020 '', 'enc:' and 'a.b' are invalid adapter names", () => {
    for (const name of ['', 'enc:', 'a.b']) {
      const err = thrown(() => host.addAdapter(name, cfgPre));
      expect(err.code).toBe('INVALID_ADAPTER_NAME');
    }
    expect(host.isAdapterAvailable()).toBe(false);
  });

  it('B-021 setEnabledAdapters on a module with no adapters throws NO_ADAPTERS', () => {
    expect(thrown(() => host.setEnabledAdapters()).code).toBe('NO_ADAPTERS');
  });

  it('B-022 unknown names throw UNKNOWN_ADAPTER listing held names; globalCfg throws RESERVED_NAME', () => {
    host.addAdapter('adapter_0', cfgPre);
    host.addAdapter('adapter_1', cfgPre);
    const err = thrown(() => host.setEnabledAdapters('nope'));
    expect(err.code).toBe('UNKNOWN_ADAPTER');
    expect(err.message).toContain('adapter_0');
    expect(err.message).toContain('adapter_1');
    expect(thrown(() => host.setEnabledAdapters('globalCfg')).code).toBe('RESERVED_NAME');
  });

  it('B-023 resolveAdapterModuleName splits at the first colon; bare names use the meta module', () => {
    expect(host.resolveAdapterModuleName('a:b:c')).toEqual(['a', 'b:c']);
    expect(host.resolveAdapterModuleName(':x')).toEqual(['', 'x']);
    expect(host.resolveAdapterModuleName('plain')).toEqual(['', 'plain']);
    const model = new TestModel();
    model.addAdapter('decoder:adapter_0', cfgPre);
    expect(model.decoder.resolveAdapterModuleName('adapter_0')).toEqual(['decoder', 'adapter_0']);
  });

  it('B-024 a config with enabled: false is stored disabled but available', () => {
    host.addAdapter('adapter_0', { ...cfgPre, enabled: false });
    expect(host.getEnabledAdapters()).toEqual([]);
    expect(host.isAdapterAvailable()).toBe(true);
    expect(host.getAdapterCfg('adapter_0')!.enabled).toBe(false);
  });

  it('B-025 chained stub adapters see the previous result: 0 → 1 → 2', () => {
    const first = new Stub(
      (y) => y,
      strategyFn((y) => tf.add(tf.mul(y, 2), 1)),
    );
    const second = new Stub(
      (y) => y,
      strategyFn((y) => tf.mul(y, 2)),
    );
    const normalized = { type: 'linear', inFeatures: 1, dim: 1, enabled: true } as never;
    host.attachAdapter('first', first, normalized);
    host.attachAdapter('second', second, normalized);
    const y = host.forwardEnabledAdapters(tf.zeros([1]));
    expect(Array.from(y.dataSync())).toEqual([2]);
  });

  it('B-026 with every adapter disabled the output equals the base output', () => {
    const before = host.forward(x);
    host.addAdapter('adapter_0', cfgPre);
    host.addAdapter('adapter_1', cfgPost);
    host.setEnabledAdapters(null, false);
    expect(host.isAdapterAvailable()).toBe(true);
    expect(host.getEnabledAdapters()).toEqual([]);
    expect(meanAbsDiff(host.forward(x), before)).toBe(0);
  });

  it('B-027 freeze + unfreezeEnabledAdapters leaves only adapter parameters trainable', () => {
    host.addAdapter('adapter_0', { ...cfgPre, dim: 10 });
    host.freeze();
    host.unfreezeEnabledAdapters();
    const params = host.namedParameters();
    const base = params.filter(([p]) => !p.includes('adapter'));
    const adapter = params.filter(([p]) => p.includes('adapter'));
    expect(base.reduce((n, [, v]) => n + v.size, 0)).toBe(2650);
    expect(base.every(([, v]) => !v.trainable)).toBe(true);
    expect(adapter.every(([, v]) => v.trainable)).toBe(true);
    for (const [, m] of host.namedModules())
      if (m instanceof BatchNorm) expect(m.trackRunningStats).toBe(false);
    expect(2650).toBeGreaterThan(adapter.reduce((n, [, v]) => n + v.size, 0));
  });

  it('B-028 enabled adapters end in training mode; a disabled one stays frozen in eval', () => {
    host.addAdapter('adapter_0', cfgPre);
    host.addAdapter('adapter_1', cfgPre);
    host.setEnabledAdapters('adapter_1', false);
    host.freeze();
    host.unfreezeEnabledAdapters();
    const a0 = host.getAdapterModule('adapter_0')!;
    const a1 = host.getAdapterModule('adapter_1')!;
    expect(a0.training).toBe(true);
    expect(a0.parameters().every((p) => p.trainable)).toBe(true);
    expect(a1.training).toBe(false);
    expect(a1.parameters().every((p) => !p.trainable)).toBe(true);
  });

  it('B-029 without a prior freeze, base parameters stay trainable', () => {
    host.addAdapter('adapter_0', cfgPre);
    host.unfreezeEnabledAdapters();
    expect(host.fc.weight.trainable).toBe(true);
    expect(host.fc.bias!.trainable).toBe(true);
  });

  it('B-030 freezeBatchNorm: false leaves batch norms untouched', () => {
    host.addAdapter('adapter_0', cfgPre);
    host.unfreezeEnabledAdapters({ freezeBatchNorm: false });
    expect(host.bn.weight.trainable).toBe(true);
    expect(host.bn.training).toBe(true);
    expect(host.bn.trackRunningStats).toBe(true);
  });

  it('B-031 a batch norm inside an enabled adapter tracks running stats and is trainable', () => {
    class BnAdapter extends AdapterModule {
      static override readonly typeName: string = 'BnAdapter';
      readonly bn = this.registerModule('bn', new BatchNorm1d({ features: 50 }));
      override forward(y: Tensor): Tensor {
        return tf.mul(this.bn.forward(y), 0);
      }
    }
    const a = new BnAdapter();
    a.setupAdapterStrategy(undefined);
    host.attachAdapter('bn_adapter', a, { type: 'linear', enabled: true } as never);
    host.freeze();
    host.unfreezeEnabledAdapters();
    expect(a.bn.trackRunningStats).toBe(true);
    expect(a.bn.weight.trainable && a.bn.bias.trainable).toBe(true);
    expect(host.bn.trackRunningStats).toBe(false);
  });

  it('B-032 unfreezeEnabledAdapters on a plain parent unfreezes each host by its own config', () => {
    class Parent extends Module {
      static override readonly typeName: string = 'Parent';
      readonly a = this.registerModule('a', new AdapterHost());
      readonly b = this.registerModule('b', new AdapterHost());
    }
    const parent = new Parent();
    parent.a.addAdapter('x', cfgPre);
    parent.b.addAdapter('x', cfgPre);
    parent.b.setEnabledAdapters('x', false);
    parent.freeze();
    unfreezeEnabledAdapters(parent);
    expect(
      parent.a
        .getAdapterModule('x')!
        .parameters()
        .every((p) => p.trainable),
    ).toBe(true);
    expect(
      parent.b
        .getAdapterModule('x')!
        .parameters()
        .every((p) => !p.trainable),
    ).toBe(true);
  });

  it('B-033 an adapter without a strategy throws MISSING_STRATEGY naming adapter and host at forward', () => {
    host.addAdapter('adapter_0', cfgPre);
    host.adapterHostPath = 'encoder';
    (host.getAdapterModule('adapter_0') as AdapterModule).adapterStrategy = undefined;
    const err = thrown(() => host.forward(x));
    expect(err.code).toBe('MISSING_STRATEGY');
    expect(err.message).toContain('adapter_0');
    expect(err.message).toContain('encoder');
  });

  it('B-034 a strategy returning input ⊙ adapter(input) gives no positive element', () => {
    host.addAdapter('adapter_0', cfgPre);
    const a = host.getAdapterModule('adapter_0') as AdapterModule;
    a.adapterStrategy = strategyFn((y, ad) => tf.mul(y, ad.forward(y) as Tensor));
    const out = host.forward(x);
    expect(tf.max(out).dataSync()[0]).toBeLessThanOrEqual(0);
  });

  it('B-035 forwardEnabledAdapters without input throws INVALID_INPUT', () => {
    host.addAdapter('adapter_0', cfgPre);
    expect(thrown(() => (host.forwardEnabledAdapters as (i?: unknown) => unknown)()).code).toBe(
      'INVALID_INPUT',
    );
  });

  it('B-036 addAdapter with a module instance throws INVALID_CONFIG asking for a config object', () => {
    const err = thrown(() =>
      host.addAdapter('adapter_0', new LinearAdapter({ inFeatures: 50, dim: 5 }) as never),
    );
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('config object');
    expect(host.isAdapterAvailable()).toBe(false);
  });

  it("B-037 a missing type lists registered types; 'lienar' is UNKNOWN_TYPE listing them", () => {
    const missing = thrown(() => host.addAdapter('a', { inFeatures: 50, dim: 5 } as never));
    expect(missing.code).toBe('INVALID_CONFIG');
    expect(missing.message).toContain('linear');
    const typo = thrown(() => host.addAdapter('a', { ...cfgPre, type: 'lienar' } as never));
    expect(typo.code).toBe('UNKNOWN_TYPE');
    expect(typo.message).toContain('lienar');
    expect(typo.message).toContain('linear');
  });

  it('B-038 an unknown field is named with the valid fields listed', () => {
    const err = thrown(() => host.addAdapter('a', { ...cfgPre, dims: 5 } as never));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('dims');
    for (const f of Object.keys(getAdapterTypeSchema('linear').fields)) expect(err.message).toContain(f);
  });

  it('B-039 a constructor failure leaves no trace', () => {
    const count = host.numParameters();
    const err = thrown(() => host.addAdapter('a', { ...cfgPre, dim: 0 }));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(host.isAdapterAvailable()).toBe(false);
    expect(host.getAdapterCfg('a')).toBeUndefined();
    expect(host.adapterCfg.globalCfg?.adapterMetaCfg?.order ?? []).not.toContain('a');
    expect(host.numParameters()).toBe(count);
  });

  it("B-040 the caller's config is not mutated (frozen configs work); the stored config has every default", () => {
    const cfg = Object.freeze({ type: 'linear', inFeatures: 50, dim: 8 });
    const copy = structuredClone(cfg);
    host.addAdapter('a', cfg);
    expect(cfg).toEqual(copy);
    expect(host.getAdapterCfg('a')).toEqual({
      type: 'linear',
      enabled: true,
      inFeatures: 50,
      dim: 8,
      activation: 'swish',
      normPosition: 'pre',
      dropout: 0,
      adapterStrategy: { type: 'residualAdd', stochasticDepth: 0, l2Lambda: 0 },
    });
  });

  it('B-041 getAdapterModule/getAdapterCfg return undefined for unknown names and accept prefixes', () => {
    host.addAdapter('adapter_0', cfgPre);
    expect(host.getAdapterModule('nope')).toBeUndefined();
    expect(host.getAdapterCfg('nope')).toBeUndefined();
    expect(host.getAdapterModule('enc:adapter_0')).toBe(host.adapterLayer.get('adapter_0'));
  });

  it("B-042 adapters named 'b' then '10' run in that order, also after a restore", () => {
    host.addAdapter('b', cfgPre);
    host.addAdapter('10', cfgPre);
    host.forward(x);
    expect(host.lastRun).toEqual(['b', '10']);
    const model = new TestModel();
    model.addAdapter('b', cfgPre);
    model.addAdapter('10', cfgPre);
    const restored = new TestModel(JSON.parse(JSON.stringify(model.cfg)));
    restored.forward(x);
    expect(restored.encoder.lastRun).toEqual(['b', '10']);
  });

  it('buildAdapter builds a standalone adapter whose output is zero at init', () => {
    const a = buildAdapter({ type: 'linear', inFeatures: 50, dim: 4 }) as LinearAdapter;
    expect(tf.sum(tf.abs(a.forward(x))).dataSync()[0]).toBe(0);
    expect(() => withAdapters(Linear)).not.toThrow();
  });
});
