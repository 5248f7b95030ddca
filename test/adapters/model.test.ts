/**
 * SPEC §3.6 Model-level adapters (B-075 … B-109), plus B-042 (execution order across a model
 * save/restore), on the `TestModel` fixture of SPEC §3.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import {
  AccessContext,
  isAdapterHost,
  setAccessContext,
  type AdapterHostModule,
  type AdapterModule,
  type AdaptersConfig,
  type LinearAdapterConfig,
} from '../../src/adapters/index.js';
import { AdapterError } from '../../src/errors.js';
import { BatchNorm } from '../../src/nn/layers.js';
import type { Module } from '../../src/nn/module.js';
import {
  AdapterHost,
  Host,
  Stub,
  TestModel,
  cfgPost,
  cfgPre,
  makeX,
  routing,
  seed,
  strategyFn,
  type TestModelConfig,
} from '../fixtures/spec-models.js';
import { LayeredModel } from '../fixtures/layered.js';
import { NestedModel } from '../fixtures/model-variants.js';
import { restoreModel, saveModel } from '../../src/io/model-checkpoint.js';
import { captureLogs, meanAbsDiff, thrown } from '../helpers.js';

type Kind = 'enc' | 'dec' | 'encdec';
const KINDS: Kind[] = ['enc', 'dec', 'encdec'];

/** A TestModel with routing `kind` plus extra options. */
function model(kind: Kind | 'none' = 'enc', extra: TestModelConfig = {}): TestModel {
  return new TestModel({ ...routing(kind), ...extra });
}

/** `cfg.adapters.globalCfg.adapterMetaCfg` of a model. */
function meta(m: { cfg: TestModelConfig }): { modules: Record<string, string>; order: string[] } {
  return m.cfg.adapters!.globalCfg!.adapterMetaCfg!;
}

/** Number of parameters held in a host's `adapter_layer`. */
function adapterParams(host: Module): number {
  return host.getChild('adapter_layer')?.numParameters() ?? 0;
}

/** Asserts `y` equals `y0` ("unchanged": mean absolute difference < 1e-5). */
function expectUnchanged(y: Tensor, y0: Tensor): void {
  expect(y.shape).toEqual(y0.shape);
  expect(meanAbsDiff(y, y0)).toBeLessThan(1e-5);
}

/** Everything a failed add must leave as it was. */
function snapshot(m: TestModel) {
  return {
    adapters: structuredClone(m.cfg.adapters),
    count: m.numParameters(),
    held: ['encoder', 'decoder', ...(m.cfg.joint ? ['joint'] : [])].map((n) =>
      (m.getChild(n) as AdapterHost).heldAdapterNames(),
    ),
  };
}

/** SPEC §2.11 whole-model checkpoint: `saveModel` then `restoreModel` through the model's constructor. */
function saveAndRestore(m: TestModel): TestModel {
  return restoreModel((cfg: TestModelConfig) => new TestModel(cfg), saveModel(m));
}

/** Every adapter host in a model's tree. */
function hostsOf(root: Module): AdapterHostModule[] {
  return root
    .namedModules()
    .map(([, m]) => m)
    .filter((m) => isAdapterHost(m)) as AdapterHostModule[];
}

beforeEach(() => {
  setAccessContext(new AccessContext());
});

describe('B-042 execution order survives a model save/restore', () => {
  function build(): TestModel {
    seed();
    const m = model('enc');
    m.addAdapter('b', cfgPre);
    m.addAdapter('10', cfgPre);
    return m;
  }

  it("B-042 adapters named 'b' then '10' run as ['b', '10'], also in a model rebuilt from its config", () => {
    const x = makeX();
    const m = build();
    m.forward(x);
    expect(m.encoder.lastRun).toEqual(['b', '10']);
    expect(meta(m).order).toEqual(['b', '10']);

    const restored = new TestModel(JSON.parse(JSON.stringify(m.cfg)) as TestModelConfig); // JSON puts '10' first
    restored.forward(x);
    expect(restored.encoder.lastRun).toEqual(['b', '10']);
    expect(restored.encoder.heldAdapterNames()).toEqual(['b', '10']);
    const cloned = new TestModel(structuredClone(m.cfg));
    cloned.forward(x);
    expect(cloned.encoder.lastRun).toEqual(['b', '10']);
  });

  it("B-042 adapters named 'b' then '10' run as ['b', '10'] after saveModel/restoreModel", () => {
    const x = makeX();
    const m = build();
    const restored = saveAndRestore(m);
    restored.forward(x);
    expect(restored.encoder.lastRun).toEqual(['b', '10']);
  });
});

describe('§3.6 model-level adapters', () => {
  it('B-075 plain Host encoder: addAdapter → MODULE_NOT_ADAPTER_CAPABLE naming encoder; the warning is logged once per model', () => {
    const m = model('enc', { plainHosts: true });
    const { result: err, warnings } = captureLogs(() => thrown(() => m.addAdapter('adapter_0', cfgPre)));
    expect(err.code).toBe('MODULE_NOT_ADAPTER_CAPABLE');
    expect(err.message).toContain('encoder');
    expect(err.message).toContain('replaceAdapterCompatibleModules');
    const encWarnings = warnings.filter((w) => w.includes("'encoder'") || /\bencoder\b/.test(w));
    expect(encWarnings).toHaveLength(1);
    expect(encWarnings[0]).toMatch(/adapter/i);

    const later = captureLogs(() => m.getEnabledAdapters());
    expect(later.warnings.filter((w) => /\bencoder\b/.test(w))).toEqual([]);
    expect(m.cfg.adapters?.['adapter_0']).toBeUndefined();
  });

  it('B-076 after replaceAdapterCompatibleModules the encoder is a host without adapters; encoder:adapter_0 makes it available', () => {
    const m = model('enc', { plainHosts: true });
    const x = makeX();
    m.eval();
    const y0 = m.forward(x);
    m.replaceAdapterCompatibleModules();
    expect(m.encoder).toBeInstanceOf(AdapterHost);
    expect(m.decoder).toBeInstanceOf(AdapterHost);
    expect(m.encoder.isAdapterAvailable()).toBe(false);
    expectUnchanged(m.forward(x), y0);
    m.addAdapter('encoder:adapter_0', cfgPre);
    expect(m.encoder.isAdapterAvailable()).toBe(true);
    expect(m.isAdapterAvailable()).toBe(true);
    expect(m.encoder.adapterCfg).toBe(m.cfg.adapters);
  });

  it('B-077 replaceAdapterCompatibleModules upgrades registered classes nested two (and three) levels deep; outputs unchanged', () => {
    seed();
    const x = makeX();
    const cfg = {
      encoder: { type: 'Host' },
      stack: { inner: { type: 'Host' } },
      deep: { mid: { host: { type: 'Host' } } },
    };
    const m = new NestedModel(cfg);
    m.eval();
    const y0 = m.forward(x);
    const keys0 = [...m.stateDict().keys()];
    m.replaceAdapterCompatibleModules();
    for (const path of ['encoder', 'stack.inner', 'deep.mid.host']) {
      const sub = m.namedModules().find(([p]) => p === path)![1];
      expect(sub, path).toBeInstanceOf(AdapterHost);
      expect(isAdapterHost(sub), path).toBe(true);
    }
    expect(m.getChild('stack')).not.toBeInstanceOf(AdapterHost); // unregistered containers stay as they are
    expect([...m.stateDict().keys()]).toEqual(keys0);
    expectUnchanged(m.forward(x), y0);
    expect(cfg).toEqual({
      encoder: { type: 'AdapterHost' },
      stack: { inner: { type: 'AdapterHost' } },
      deep: { mid: { host: { type: 'AdapterHost' } } },
    });
  });

  it('B-078 a global adapter_0 raises the parameter count', () => {
    const m = model('enc');
    const before = m.numParameters();
    m.addAdapter('adapter_0', cfgPre);
    expect(m.numParameters()).toBe(before + 10_100);
    expect(m.numParameters()).toBeGreaterThan(before);
  });

  describe.each([
    ['B-079', 'encoder', 'decoder'],
    ['B-080', 'decoder', 'encoder'],
  ] as const)('%s %s:adapter_0', (id, target, other) => {
    function build(): TestModel {
      seed();
      const m = model('enc');
      const before = m.numParameters();
      m.addAdapter(`${target}:adapter_0`, cfgPre);
      expect(m.numParameters()).toBeGreaterThan(before);
      expect(m.numParameters()).toBe(before + 10_100);
      return m;
    }
    function check(src: TestModel, m: TestModel): void {
      expect(m.numParameters()).toBe(src.numParameters());
      expect(m.getEnabledAdapters()).toEqual(['adapter_0']);
      expect((m.getChild(other) as AdapterHost).isAdapterAvailable()).toBe(false);
      expect((m.getChild(target) as AdapterHost).isAdapterAvailable()).toBe(true);
      expect(meta(m).modules['adapter_0']).toBe(target);
    }

    it(`${id} ${target}:adapter_0 is held by ${target} only, meta '${target}'; a model rebuilt from the config matches`, () => {
      const m = build();
      expect((m.getChild(other) as AdapterHost).isAdapterAvailable()).toBe(false);
      expect(meta(m).modules['adapter_0']).toBe(target);
      check(m, m);
      check(m, new TestModel(structuredClone(m.cfg)));
    });

    it(`${id} ${target}:adapter_0 survives saveModel/restoreModel (count, enabled list, ${other} empty, meta, weights)`, () => {
      const m = build();
      const restored = saveAndRestore(m);
      check(m, restored);
      const sd = restored.stateDict();
      for (const [k, v] of m.stateDict()) {
        expect(sd.has(k), k).toBe(true);
        expect(Array.from(sd.get(k)!.dataSync()), k).toEqual(Array.from(v.dataSync()));
      }
    });
  });

  it("B-081 a global adapter_0 is recorded with module spec ''", () => {
    const m = model('enc');
    m.addAdapter('adapter_0', cfgPre);
    expect(m.cfg.adapters!.globalCfg!.adapterMetaCfg!.modules['adapter_0']).toBe('');
    expect(meta(m).order).toEqual(['adapter_0']);
  });

  it('B-082 a global adapter with both routing flags off: count unchanged, nothing available, a warning names adapter_0', () => {
    const m = model('none');
    const before = m.numParameters();
    const { warnings } = captureLogs(() => m.addAdapter('adapter_0', cfgPre));
    expect(m.numParameters()).toBe(before);
    expect(m.isAdapterAvailable()).toBe(false);
    expect(warnings.filter((w) => w.includes('adapter_0'))).toHaveLength(1);
    // The config is still recorded.
    expect(m.cfg.adapters!['adapter_0']).toBeDefined();
    expect(meta(m).modules['adapter_0']).toBe('');
  });

  it('B-083 enc+dec with adapter_0 and decoder:adapter_1, all disabled: available, enabled list empty', () => {
    const m = model('encdec');
    m.addAdapter('adapter_0', cfgPre);
    m.addAdapter('decoder:adapter_1', cfgPre);
    m.setEnabledAdapters(null, false);
    expect(m.isAdapterAvailable()).toBe(true);
    expect(m.getEnabledAdapters()).toEqual([]);
    expect(m.encoder.getEnabledAdapters()).toEqual([]);
    expect(m.decoder.getEnabledAdapters()).toEqual([]);
  });

  it.each(KINDS)('B-084 (%s) only decoder:adapter_1, all disabled: available, enabled list empty', (kind) => {
    const m = model(kind);
    m.addAdapter('decoder:adapter_1', cfgPre);
    expect(m.getEnabledAdapters()).toEqual(['adapter_1']);
    m.setEnabledAdapters(null, false);
    expect(m.isAdapterAvailable()).toBe(true);
    expect(m.getEnabledAdapters()).toEqual([]);
  });

  it('B-085 a global adapter on enc+dec adds exactly twice the parameters it adds on enc only', () => {
    const enc = model('enc');
    const encdec = model('encdec');
    const e0 = enc.numParameters();
    const ed0 = encdec.numParameters();
    enc.addAdapter('adapter_0', cfgPre);
    encdec.addAdapter('adapter_0', cfgPre);
    const encDelta = enc.numParameters() - e0;
    expect(encDelta).toBe(10_100);
    expect(encdec.numParameters() - ed0).toBe(2 * encDelta);
  });

  it.each(KINDS)('B-086 (%s) adding adapter_0 then adapter_1 raises the count each time', (kind) => {
    const m = model(kind);
    const c0 = m.numParameters();
    m.addAdapter('adapter_0', cfgPre);
    const c1 = m.numParameters();
    m.addAdapter('adapter_1', cfgPre);
    const c2 = m.numParameters();
    expect(c1).toBeGreaterThan(c0);
    expect(c2).toBeGreaterThan(c1);
    expect(c2 - c1).toBe(c1 - c0);
  });

  it.each(['encoder:adapter_0', 'decoder:adapter_0'])(
    'B-087 enc+dec with global adapter_0: adding %s → DUPLICATE_ADAPTER',
    (name) => {
      const m = model('encdec');
      m.addAdapter('adapter_0', cfgPre);
      const before = snapshot(m);
      const err = thrown(() => m.addAdapter(name, cfgPre));
      expect(err.code).toBe('DUPLICATE_ADAPTER');
      expect(err.message).toContain('adapter_0');
      expect(snapshot(m)).toEqual(before);
    },
  );

  it('B-088 a duplicate name on another module throws DUPLICATE_ADAPTER naming the holder and changes nothing', () => {
    const m = model('enc');
    m.addAdapter('encoder:adapter_0', cfgPre);
    const before = snapshot(m);
    const err = thrown(() => m.addAdapter('decoder:adapter_0', cfgPre));
    expect(err.code).toBe('DUPLICATE_ADAPTER');
    expect(err.message).toContain('adapter_0');
    expect(err.message).toContain('encoder');
    expect(meta(m).modules['adapter_0']).toBe('encoder');
    expect(snapshot(m)).toEqual(before);
    expect(m.decoder.isAdapterAvailable()).toBe(false);
  });

  describe('B-089 a failing model-level add leaves cfg.adapters, meta, order and the count as before', () => {
    function setup(): TestModel {
      const m = model('encdec');
      m.addAdapter('adapter_0', cfgPre);
      m.addAdapter('decoder:adapter_1', cfgPost);
      return m;
    }
    const cases: Array<[string, string, (m: TestModel) => void, string]> = [
      ['invalid module', 'INVALID_MODULE_NAME', (m) => m.addAdapter('jnt:adapter_2', cfgPre), 'jnt'],
      [
        'invalid module in a + spec',
        'INVALID_MODULE_NAME',
        (m) => m.addAdapter('encoder+jnt:adapter_2', cfgPre),
        'jnt',
      ],
      ['duplicate', 'DUPLICATE_ADAPTER', (m) => m.addAdapter('encoder:adapter_1', cfgPre), 'adapter_1'],
      ['reserved name', 'RESERVED_NAME', (m) => m.addAdapter('encoder:globalCfg', cfgPre), 'globalCfg'],
      ['invalid name', 'INVALID_ADAPTER_NAME', (m) => m.addAdapter('encoder:a.b', cfgPre), 'a.b'],
      [
        'unknown type',
        'UNKNOWN_TYPE',
        (m) => m.addAdapter('adapter_2', { ...cfgPre, type: 'lienar' } as never),
        'lienar',
      ],
      [
        'unknown field',
        'INVALID_CONFIG',
        (m) => m.addAdapter('adapter_2', { ...cfgPre, dims: 5 } as never),
        'dims',
      ],
      ['bad value', 'INVALID_CONFIG', (m) => m.addAdapter('adapter_2', { ...cfgPre, dim: 0 }), 'dim'],
      [
        'bad strategy',
        'INVALID_CONFIG',
        (m) =>
          m.addAdapter('adapter_2', {
            ...cfgPre,
            adapterStrategy: { type: 'residualAdd', stochasticDepth: 2 },
          }),
        'stochasticDepth',
      ],
      [
        'type not accepted by one of two targets',
        'TYPE_NOT_ACCEPTED',
        (m) => {
          captureLogs(() => m.decoder.setAcceptedAdapterTypes([Stub]));
          m.addAdapter('adapter_2', cfgPre); // routes to encoder (accepts) and decoder (rejects)
        },
        'linear',
      ],
    ];
    it('B-089 a failure inside the second target host rolls back the first host and the config', () => {
      const m = setup();
      const before = snapshot(m);
      const encParams = adapterParams(m.encoder);
      // The decoder's own add fails after the encoder's succeeded (a constructor failure, say).
      Object.defineProperty(m.decoder, 'addAdapter', {
        value: () => {
          throw new AdapterError('INVALID_CONFIG', 'simulated build failure on decoder');
        },
        configurable: true,
      });
      const err = thrown(() => m.addAdapter('adapter_2', cfgPre)); // global: encoder then decoder
      expect(err.code).toBe('INVALID_CONFIG');
      expect(snapshot(m)).toEqual(before);
      expect(adapterParams(m.encoder)).toBe(encParams);
      expect(m.encoder.getAdapterModule('adapter_2')).toBeUndefined();
      for (const h of hostsOf(m)) expect(h.adapterCfg).toBe(m.cfg.adapters);
    });

    it.each(cases)('B-089 %s → %s, nothing changed', (_label, code, act, named) => {
      const m = setup();
      const adaptersObj = m.cfg.adapters;
      const before = snapshot(m);
      const err = thrown(() => act(m));
      expect(err.code).toBe(code);
      expect(err.message).toContain(named);
      expect(snapshot(m)).toEqual(before);
      expect(m.cfg.adapters).toBe(adaptersObj);
      for (const h of hostsOf(m)) expect(h.adapterCfg).toBe(m.cfg.adapters);
    });
  });

  describe.each([
    ['B-090', 'pre', cfgPre],
    ['B-091', 'post', cfgPost],
  ] as const)('%s %s-norm global adapter', (id, pos, cfg) => {
    it.each(KINDS)(`${id} (%s) output unchanged after adding a ${pos}-norm global adapter`, (kind) => {
      seed();
      const x = makeX();
      const m = model(kind);
      m.eval();
      const y0 = m.forward(x);
      m.addAdapter('adapter_0', cfg);
      const y1 = m.forward(x);
      expectUnchanged(y1, y0);
      expect(m.encoder.lastRun).toEqual(kind === 'dec' ? [] : ['adapter_0']);
      expect(m.decoder.lastRun).toEqual(kind === 'enc' ? [] : ['adapter_0']);
    });
  });

  it.each(KINDS)(
    'B-092 (%s) two global adapters run as [adapter_0, adapter_1] on each routed host; output unchanged',
    (kind) => {
      seed();
      const x = makeX();
      const m = model(kind);
      m.eval();
      const y0 = m.forward(x);
      m.addAdapter('adapter_0', cfgPre);
      m.addAdapter('adapter_1', cfgPost);
      expectUnchanged(m.forward(x), y0);
      const both = ['adapter_0', 'adapter_1'];
      expect(m.encoder.lastRun).toEqual(kind === 'dec' ? [] : both);
      expect(m.decoder.lastRun).toEqual(kind === 'enc' ? [] : both);
    },
  );

  it('B-093 per-module adapters, two disabled: encoder runs [adapter_1], decoder runs [adapter_2]; output unchanged', () => {
    seed();
    const x = makeX();
    const m = model('enc');
    m.eval();
    const y0 = m.forward(x);
    m.addAdapter('adapter_0', cfgPre);
    m.addAdapter('encoder:adapter_1', cfgPre);
    m.addAdapter('decoder:adapter_2', cfgPre);
    m.addAdapter('decoder:adapter_3', cfgPost);
    m.setEnabledAdapters('adapter_0', false);
    m.setEnabledAdapters('adapter_3', false);
    const y1 = m.forward(x);
    expect(m.encoder.lastRun).toEqual(['adapter_1']);
    expect(m.decoder.lastRun).toEqual(['adapter_2']);
    expectUnchanged(y1, y0);
    expect(m.getEnabledAdapters()).toEqual(['adapter_1', 'adapter_2']);
  });

  describe('B-094 disabling name1 leaves only name2 enabled', () => {
    const pairs: Array<[string, string]> = [];
    for (const n1 of ['adapter_0', 'encoder:adapter_0'])
      for (const n2 of ['adapter_1', 'encoder:adapter_1']) pairs.push([n1, n2]);
    it.each(pairs)('B-094 name1 %s, name2 %s', (n1, n2) => {
      seed();
      const x = makeX();
      const m = model('enc');
      m.eval();
      const y0 = m.forward(x);
      m.addAdapter(n1, cfgPre);
      m.addAdapter(n2, cfgPre);
      m.setEnabledAdapters(n1, false);
      expect(m.getEnabledAdapters()).toEqual([m.resolveAdapterModuleName(n2)[1]]);
      expect(m.getEnabledAdapters()).toEqual(['adapter_1']);
      const y1 = m.forward(x);
      expect(m.encoder.lastRun).toEqual(['adapter_1']);
      expectUnchanged(y1, y0);
    });
  });

  it.each(KINDS)(
    'B-095 (%s) freeze + unfreezeEnabledAdapters: base 5 300, only adapter parameters trainable, batch norms untracked',
    (kind) => {
      const m = model(kind);
      const base = m.numParameters();
      expect(base).toBe(5_300);
      m.addAdapter('adapter_0', cfgPre);
      m.freeze();
      m.unfreezeEnabledAdapters();
      for (const [path, p] of m.namedParameters()) {
        expect(p.trainable, path).toBe(path.includes('adapter'));
      }
      for (const [path, mod] of m.namedModules()) {
        if (mod instanceof BatchNorm) expect(mod.trackRunningStats, path).toBe(false);
      }
      const adapterCount = adapterParams(m.encoder) + adapterParams(m.decoder);
      expect(adapterCount).toBe(kind === 'encdec' ? 20_200 : 10_100);
      expect(m.numParameters({ trainableOnly: true })).toBe(adapterCount);
      expect(m.numParameters() - base).toBe(adapterCount);
    },
  );

  it("B-096 removing the encoder adapter's strategy → MISSING_STRATEGY at forward, naming the adapter and host", () => {
    const m = model('enc');
    m.addAdapter('adapter_0', cfgPre);
    (m.encoder.getAdapterModule('adapter_0') as AdapterModule).adapterStrategy = undefined;
    const err = thrown(() => m.forward(makeX()));
    expect(err.code).toBe('MISSING_STRATEGY');
    expect(err.message).toContain('adapter_0');
    expect(err.message).toContain('encoder');
  });

  it('B-097 an input ⊙ adapter(input) strategy on encoder and decoder adapters yields no positive output element', () => {
    seed();
    const m = model('encdec');
    m.addAdapter('adapter_0', cfgPre);
    const s = strategyFn((x, a) => tf.mul(x, a.forward(x) as Tensor));
    for (const h of [m.encoder, m.decoder])
      (h.getAdapterModule('adapter_0') as AdapterModule).adapterStrategy = s;
    const y = m.forward(makeX());
    expect(y.shape).toEqual([2, 50]);
    expect(tf.max(y).dataSync()[0]!).toBeLessThanOrEqual(0);
    expect(m.encoder.lastRun).toEqual(['adapter_0']);
    expect(m.decoder.lastRun).toEqual(['adapter_0']);
  });

  it.each([
    ['no joint module', {}],
    ['joint present but not listed', { joint: true, listJoint: false }],
  ] as const)(
    'B-098 (%s) joint:adapter_0 → INVALID_MODULE_NAME naming joint and listing valid names; count unchanged',
    (_l, extra) => {
      const m = model('enc', extra);
      const before = snapshot(m);
      const err = thrown(() => m.addAdapter('joint:adapter_0', cfgPre));
      expect(err.code).toBe('INVALID_MODULE_NAME');
      expect(err.message).toContain('joint');
      expect(err.message).toContain('encoder');
      expect(err.message).toContain('decoder');
      expect(snapshot(m)).toEqual(before);
    },
  );

  it('B-099 on a model listing joint, joint:adapter_0 is held by the joint module only', () => {
    const m = model('enc', { joint: true });
    const before = m.numParameters();
    m.addAdapter('joint:adapter_0', cfgPre);
    expect(m.joint.isAdapterAvailable()).toBe(true);
    expect(m.joint.getEnabledAdapters()).toEqual(['adapter_0']);
    expect(m.encoder.isAdapterAvailable()).toBe(false);
    expect(m.decoder.isAdapterAvailable()).toBe(false);
    expect(m.numParameters()).toBe(before + 10_100);
    expect(meta(m).modules['adapter_0']).toBe('joint');
  });

  it("B-100 decoder+joint:adapter_0 is held by both and recorded as 'decoder+joint'; decoder+jnt:a → INVALID_MODULE_NAME naming jnt", () => {
    const m = model('enc', { joint: true });
    const before = m.numParameters();
    m.addAdapter('decoder+joint:adapter_0', cfgPre);
    expect(m.decoder.heldAdapterNames()).toEqual(['adapter_0']);
    expect(m.joint.heldAdapterNames()).toEqual(['adapter_0']);
    expect(m.encoder.isAdapterAvailable()).toBe(false);
    expect(meta(m).modules['adapter_0']).toBe('decoder+joint');
    expect(m.numParameters()).toBe(before + 2 * 10_100);

    const snap = snapshot(m);
    const err = thrown(() => m.addAdapter('decoder+jnt:a', cfgPre));
    expect(err.code).toBe('INVALID_MODULE_NAME');
    expect(err.message).toContain('jnt');
    expect(err.message).toContain('joint');
    expect(snapshot(m)).toEqual(snap);
  });

  it('B-101 no default module and a bare name → NO_DEFAULT_MODULE listing valid module names', () => {
    const m = model('enc', { noDefault: true });
    expect(m.defaultAdapterModuleName).toBeNull();
    const before = snapshot(m);
    const err = thrown(() => m.addAdapter('adapter_0', cfgPre));
    expect(err.code).toBe('NO_DEFAULT_MODULE');
    expect(err.message).toContain('encoder');
    expect(err.message).toContain('decoder');
    expect(snapshot(m)).toEqual(before);
    // A prefixed name still works.
    m.addAdapter('decoder:adapter_0', cfgPre);
    expect(m.decoder.isAdapterAvailable()).toBe(true);
  });

  it('B-102 a listed module that does not exist → MISSING_SUBMODULE naming it', () => {
    const m = model('enc', { listMissing: true });
    const before = snapshot(m);
    const err = thrown(() => m.addAdapter('nonexistent:adapter_0', cfgPre));
    expect(err.code).toBe('MISSING_SUBMODULE');
    expect(err.message).toContain('nonexistent');
    expect(snapshot(m)).toEqual(before);
    // A spec mixing an existing and a missing module fails the same way and builds nothing.
    const err2 = thrown(() => m.addAdapter('decoder+nonexistent:adapter_0', cfgPre));
    expect(err2.code).toBe('MISSING_SUBMODULE');
    expect(snapshot(m)).toEqual(before);
  });

  it('B-103 a decoder swapped back to its base class → MODULE_NOT_ADAPTER_CAPABLE for decoder:adapter_0', () => {
    const m = model('enc');
    Object.setPrototypeOf(m.decoder, Host.prototype);
    expect(isAdapterHost(m.decoder)).toBe(false);
    const before = m.numParameters();
    const err = captureLogs(() => thrown(() => m.addAdapter('decoder:adapter_0', cfgPre))).result;
    expect(err.code).toBe('MODULE_NOT_ADAPTER_CAPABLE');
    expect(err.message).toContain('decoder');
    expect(m.numParameters()).toBe(before);
    expect(m.cfg.adapters?.['adapter_0']).toBeUndefined();
  });

  it("B-104 after decoder:adapter_0, decoder.getEnabledAdapters()[0] is 'adapter_0'", () => {
    const m = model('enc');
    m.addAdapter('decoder:adapter_0', cfgPre);
    expect(m.decoder.getEnabledAdapters()[0]).toBe('adapter_0');
    expect(m.encoder.getEnabledAdapters()).toEqual([]);
  });

  describe('B-105 / B-106 pairs of names', () => {
    // Added in the order adapter_b, adapter_a, so "sorted" differs from insertion order.
    const plain: Array<[string, string]> = [];
    for (const p1 of ['', 'encoder:', 'decoder:'])
      for (const p2 of ['', 'encoder:', 'decoder:']) plain.push([`${p1}adapter_b`, `${p2}adapter_a`]);
    const joint: Array<[string, string]> = [];
    for (const p1 of ['decoder:', 'joint:'])
      for (const p2 of ['decoder:', 'joint:']) joint.push([`${p1}adapter_b`, `${p2}adapter_a`]);
    const all = [
      ...plain.map(([a, b]) => [a, b, false] as const),
      ...joint.map(([a, b]) => [a, b, true] as const),
    ];

    it.each(all)(
      'B-105 %s + %s (joint model: %s): getEnabledAdapters() is the sorted pair; output unchanged',
      (n1, n2, withJoint) => {
        seed();
        const x = makeX();
        const m = model('enc', withJoint ? { joint: true } : {});
        m.eval();
        const y0 = m.forward(x);
        m.addAdapter(n1, cfgPre);
        m.addAdapter(n2, cfgPost);
        expect(m.getEnabledAdapters()).toEqual(['adapter_a', 'adapter_b']);
        expectUnchanged(m.forward(x), y0);
      },
    );

    it.each(all)(
      'B-106 %s + %s (joint model: %s): disabling the first leaves only the second',
      (n1, n2, withJoint) => {
        const m = model('enc', withJoint ? { joint: true } : {});
        m.addAdapter(n1, cfgPre);
        m.addAdapter(n2, cfgPre);
        m.setEnabledAdapters(n1, false);
        expect(m.getEnabledAdapters()).toEqual(['adapter_a']);
        m.setEnabledAdapters(n1, true);
        m.setEnabledAdapters(n2, false);
        expect(m.getEnabledAdapters()).toEqual(['adapter_b']);
      },
    );
  });

  it('B-107 model setEnabledAdapters: NO_ADAPTERS before any add; unknown name → UNKNOWN_ADAPTER; globalCfg → RESERVED_NAME', () => {
    const m = model('enc');
    expect(thrown(() => m.setEnabledAdapters()).code).toBe('NO_ADAPTERS');
    expect(thrown(() => m.setEnabledAdapters('adapter_0', false)).code).toBe('NO_ADAPTERS');
    m.addAdapter('adapter_0', cfgPre);
    m.addAdapter('decoder:adapter_1', cfgPre);
    const err = thrown(() => m.setEnabledAdapters('nope'));
    expect(err.code).toBe('UNKNOWN_ADAPTER');
    expect(err.message).toContain('nope');
    expect(err.message).toContain('adapter_0');
    expect(err.message).toContain('adapter_1');
    const reserved = thrown(() => m.setEnabledAdapters('globalCfg'));
    expect(reserved.code).toBe('RESERVED_NAME');
    expect(thrown(() => m.setEnabledAdapters('global_cfg')).code).toBe('RESERVED_NAME');
    expect(m.getEnabledAdapters()).toEqual(['adapter_0', 'adapter_1']); // failures changed nothing
  });

  describe('B-108 building a model from a config holding two adapters, the second disabled', () => {
    const x = makeX();
    /** Keys deliberately in the reverse of `order`: `order` is authoritative. */
    function storedConfig(): TestModelConfig {
      const adapters: AdaptersConfig = {
        adapter_a: { ...cfgPost, enabled: false } satisfies LinearAdapterConfig,
        adapter_b: { ...cfgPre } satisfies LinearAdapterConfig,
        globalCfg: {
          encoderAdapter: true,
          decoderAdapter: false,
          adapterMetaCfg: {
            modules: { adapter_b: '', adapter_a: 'encoder' },
            order: ['adapter_b', 'adapter_a'],
          },
        },
      };
      return { adapters };
    }
    function checkRestored(m: TestModel): void {
      expect(m.encoder.heldAdapterNames()).toEqual(['adapter_b', 'adapter_a']);
      expect(m.decoder.isAdapterAvailable()).toBe(false);
      expect(m.getEnabledAdapters()).toEqual(['adapter_b']);
      expect(m.encoder.getAdapterCfg('adapter_a')!.enabled).toBe(false);
      expect(m.encoder.getAdapterCfg('adapter_b')!.enabled).toBe(true);
      expect(meta(m).modules).toEqual({ adapter_b: '', adapter_a: 'encoder' });
      expect(meta(m).order).toEqual(['adapter_b', 'adapter_a']);
      m.forward(x);
      expect(m.encoder.lastRun).toEqual(['adapter_b']);
      m.setEnabledAdapters(null, true);
      m.forward(x);
      expect(m.encoder.lastRun).toEqual(['adapter_b', 'adapter_a']);
    }

    it('B-108 from a hand-written stored config', () => {
      const m = new TestModel(storedConfig());
      expect(m.numParameters()).toBe(5_300 + 2 * 10_100);
      checkRestored(m);
    });

    it('B-108 from the config of a live model (structuredClone and JSON round trip)', () => {
      const src = model('enc');
      src.addAdapter('adapter_b', cfgPre);
      src.addAdapter('encoder:adapter_a', { ...cfgPost, enabled: false });
      checkRestored(new TestModel(structuredClone(src.cfg)));
      checkRestored(new TestModel(JSON.parse(JSON.stringify(src.cfg)) as TestModelConfig));
    });

    it('B-108 through saveModel/restoreModel', () => {
      const src = model('enc');
      src.addAdapter('adapter_b', cfgPre);
      src.addAdapter('encoder:adapter_a', { ...cfgPost, enabled: false });
      checkRestored(saveAndRestore(src));
    });
  });

  describe("B-109 every host's adapterCfg is model.cfg.adapters after any add", () => {
    function expectShared(m: Module & { cfg: TestModelConfig }): void {
      expect(m.cfg.adapters).toBeDefined();
      const hosts = hostsOf(m).filter((h) => h !== (m as unknown));
      expect(hosts.length).toBeGreaterThan(0);
      for (const h of hosts) expect(h.adapterCfg).toBe(m.cfg.adapters);
    }

    it('B-109 TestModel: global, prefixed and enc+dec adds', () => {
      const m = model('encdec', { joint: true });
      m.addAdapter('adapter_0', cfgPre);
      expectShared(m);
      m.addAdapter('decoder:adapter_1', cfgPre);
      expectShared(m);
      m.addAdapter('joint:adapter_2', cfgPre);
      expectShared(m);
      m.setEnabledAdapters('adapter_1', false);
      expectShared(m);
      // The shared object really is one: a flag set through the model is seen by the hosts.
      expect(m.decoder.getEnabledAdapters()).toEqual(['adapter_0']);
    });

    it('B-109 a model built from a stored config, and one upgraded with replaceAdapterCompatibleModules', () => {
      const src = model('enc');
      src.addAdapter('adapter_0', cfgPre);
      const rebuilt = new TestModel(structuredClone(src.cfg));
      expectShared(rebuilt);
      const plain = model('enc', { plainHosts: true });
      plain.replaceAdapterCompatibleModules();
      plain.addAdapter('decoder:adapter_0', cfgPre);
      expectShared(plain);
    });

    it('B-109 a layered encoder and each of its layers', () => {
      const m = new LayeredModel({ layers: 3 });
      m.addAdapter('adapter_0', cfgPre);
      m.addAdapter('decoder:adapter_1', cfgPre);
      expectShared(m);
      for (const layer of m.encoder.hostLayers) expect(layer.adapterCfg).toBe(m.cfg.adapters);
      expect(m.encoder.hostLayers.every((l) => l.heldAdapterNames().includes('adapter_0'))).toBe(true);
    });
  });
});
