/**
 * The tuner method registry: a method is one folder plus one `registerTunerMethod` call. A toy
 * method declared in this file (a learned per-output scale on `Linear`) is registered and runs
 * through the generic `PeftModel`: wrap, forward, disable, merge and unmerge, state keys, delete,
 * per-sample selection, unload. The core never names a method (checked on its sources).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import {
  adapterStateDict,
  getTunerMethod,
  getWrapperTypeSchema,
  inspectTargets,
  isAdapterInternalKey,
  listWrapperTypes,
  LinearTunerLayer,
  ParameterDict,
  parseWrapperConfig,
  PeftModel,
  registerTunerMethod,
  unregisterTunerMethod,
  type AdapterTensor,
  type BaseTunerConfig,
  type TunerMethod,
  type WrapperConfig,
} from '../../../src/adapters/index.js';
import { Embedding, Linear } from '../../../src/nn/layers.js';
import { Holder, seed } from '../../fixtures/lora-models.js';
import { captureLogs, expectClose, thrown } from '../../helpers.js';

/** The toy method's normalised config. */
interface ToyConfig extends BaseTunerConfig {
  type: 'toy';
}

/**
 * A toy config as `PeftModel` takes it. (A method shipped in `src/` adds its types to
 * `TunerConfigTypes` instead; this file does not, so the program's config union stays the built-ins'.)
 */
function toy(cfg: { targetModules?: string[] } = {}): WrapperConfig {
  return { type: 'toy', ...cfg } as unknown as WrapperConfig;
}

/** `y = base(x) ⊙ (1 + s)`, one vector `toy_s.<name>` of shape `[out]` per adapter (zeros at init). */
class ToyScaleLinear extends LinearTunerLayer {
  static override readonly typeName: string = 'ToyScaleLinear';
  static override readonly adapterLayerNames = ['toy_s'] as const;
  readonly tunerKind = 'toy';
  readonly toy_s: ParameterDict;

  constructor(options: { base: Linear }) {
    super(options);
    this.toy_s = this.registerModule('toy_s', new ParameterDict());
  }
  updateLayer(name: string): void {
    this.toy_s.set(name, tf.zeros([this.outFeatures]));
  }
  override heldAdapters(): string[] {
    return this.toy_s.keys();
  }
  override adapterParameters(name: string): AdapterTensor[] {
    const s = this.toy_s.get(name);
    return s ? [{ key: `toy_s.${name}`, peftKey: 'toy_s', param: s }] : [];
  }
  override removeAdapter(name: string): void {
    this.toy_s.delete(name);
  }
  override forward(x: Tensor): Tensor {
    return tf.tidy(() => {
      let y = this.baseLayer.forward(x) as Tensor;
      for (const n of this.runNames()) y = tf.mul(y, tf.add(1, this.toy_s.get(n)!));
      return y;
    });
  }
  private factor(name: string): Tensor {
    return tf.tidy(() => tf.reshape(tf.add(1, this.toy_s.get(name)!), [-1, 1]));
  }
  override mergeAdapter(name: string, checkFinite: boolean): void {
    const f = this.factor(name);
    const newW = tf.tidy(() => tf.mul(this.weight, f));
    const bias = this.bias;
    const newB = bias ? tf.tidy(() => tf.mul(bias, tf.reshape(f, [-1]))) : null;
    f.dispose();
    this.commitMerge(name, newW, newB, checkFinite);
  }
  override unmergeAdapter(name: string): void {
    const f = this.factor(name);
    tf.tidy(() => {
      this.weight.assign(tf.div(this.weight, f));
      if (this.bias) this.bias.assign(tf.div(this.bias, tf.reshape(f, [-1])));
    });
    f.dispose();
    this.forgetMerge(name);
  }
}

const toySchema = z.strictObject({
  type: z.literal('toy'),
  targetModules: z
    .union([z.string().min(1), z.array(z.string().min(1))])
    .nullable()
    .default(null),
});

/** The whole method: what `toy/model.ts` would hold; registering it is the one line a new method adds. */
const toyMethod: TunerMethod<ToyConfig> = {
  name: 'toy',
  displayName: 'Toy scale',
  layerClasses: [ToyScaleLinear],
  perRowSelection: false,
  describe: () => ({
    fields: {
      type: { kind: 'enum', required: true, choices: ['toy'] },
      targetModules: { kind: 'any', required: false, default: null },
    },
  }),
  parse(cfg, where) {
    const r = toySchema.safeParse(cfg);
    if (!r.success) throw new Error(`${where}: ${r.error.message}`);
    return { ...r.data, excludeModules: null, modulesToSave: null };
  },
  resolveDefaults: (_model, cfg) => ({ ...cfg, targetModules: cfg.targetModules ?? ['lin'] }),
  canWrap: (base) => base instanceof Linear,
  supportedTargets: () => 'Linear',
  createOrUpdateLayer({ current, name }) {
    const layer =
      current instanceof ToyScaleLinear ? current : new ToyScaleLinear({ base: current as Linear });
    layer.updateLayer(name);
    return layer;
  },
  approximateUnmergeWarning: (where) => `${where}: toy unmerge divides by (1 + s)`,
};

function model(): Holder {
  return new Holder({
    lin: new Linear({ inFeatures: 3, outFeatures: 4 }),
    emb_like: new Linear({ inFeatures: 4, outFeatures: 2 }),
  });
}

describe('tuner method registry', () => {
  beforeAll(() => {
    seed();
    registerTunerMethod(toyMethod);
  });
  afterAll(() => {
    unregisterTunerMethod('toy');
  });

  it('lists the built-in methods and a registered one; schemas and parsing come from the registry', () => {
    expect(listWrapperTypes()).toEqual(['lora', 'ia3', 'vera', 'toy']);
    expect(getWrapperTypeSchema('toy').fields.type!.choices).toEqual(['toy']);
    expect(parseWrapperConfig({ type: 'toy' }, 'here')).toEqual({
      type: 'toy',
      targetModules: null,
      excludeModules: null,
      modulesToSave: null,
    });
    const err = thrown(() => parseWrapperConfig({ type: 'vera2' }, 'here'));
    expect(err.code).toBe('UNKNOWN_TYPE');
    expect(err.message).toContain('lora, ia3, vera, toy');
    expect(thrown(() => getWrapperTypeSchema('nope')).details).toMatchObject({
      valid: ['lora', 'ia3', 'vera', 'toy'],
    });
  });

  it('refuses a second method with the same name, layer class or parameter prefix (REGISTRY_CONFLICT)', () => {
    expect(thrown(() => registerTunerMethod({ ...toyMethod })).code).toBe('REGISTRY_CONFLICT');
    const samePrefix = class extends ToyScaleLinear {
      static override readonly typeName: string = 'Other';
    };
    const e = thrown(() => registerTunerMethod({ ...toyMethod, name: 'toy2', layerClasses: [samePrefix] }));
    expect(e.code).toBe('REGISTRY_CONFLICT');
    expect(e.message).toContain("'toy_s'");
    const loraPrefix = { typeName: 'X', adapterLayerNames: ['lora_A'] };
    expect(
      thrown(() => registerTunerMethod({ ...toyMethod, name: 'toy3', layerClasses: [loraPrefix] })).message,
    ).toContain("'lora'");
    expect(listWrapperTypes()).toEqual(['lora', 'ia3', 'vera', 'toy']);
  });

  it('derives adapter-internal keys from the prefixes registered layers declare', () => {
    expect(isAdapterInternalKey('a.toy_s.default')).toBe(true);
    expect(isAdapterInternalKey('a.lora_A.default.weight')).toBe(true);
    expect(isAdapterInternalKey('a.ia3_l.default')).toBe(true);
    expect(isAdapterInternalKey('a.modules_to_save.default.weight')).toBe(true);
    expect(isAdapterInternalKey('a.toy_sx.default')).toBe(false);
    expect(isAdapterInternalKey('a.bias')).toBe(false);
  });

  it('wraps a model with the toy method through the generic PeftModel: forward, disable, merge, unmerge, delete, unload', () => {
    const m = model();
    const x = tf.randomNormal([2, 3]);
    const base = m.forward(x) as Tensor;
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const peft = PeftModel.wrap(m, toy());
      expect(peft.tunerType).toBe('toy');
      expect(m.getSubmodule('lin')).toBeInstanceOf(ToyScaleLinear);
      expect([...adapterStateDict(m).keys()]).toEqual(['lin.toy_s.default']);
      expect(inspectTargets(m, toy({ targetModules: ['emb_like'] })).matched).toEqual([
        { path: 'emb_like', kind: 'Linear', r: null, alpha: null, scaling: null },
      ]);
      expectClose(peft.forward(x) as Tensor, base); // zeros at init: identity
      (m.getSubmodule('lin') as ToyScaleLinear).toy_s.get('default')!.assign(tf.tensor1d([1, 0, -0.5, 2]));
      const adapted = peft.forward(x) as Tensor;
      expect(tf.max(tf.abs(tf.sub(adapted, base))).dataSync()[0]).toBeGreaterThan(1e-3);
      expectClose(
        peft.withAdaptersDisabled(() => peft.forward(x) as Tensor),
        base,
      );

      peft.mergeAdapters();
      expectClose(peft.forward(x) as Tensor, adapted);
      const { warnings } = captureLogs(() => peft.unmergeAdapters());
      expect(warnings).toEqual(['unmergeAdapters: toy unmerge divides by (1 + s)']); // the method's own warning
      expectClose(peft.forward(x) as Tensor, adapted);

      // Per-sample selection without a one-pass layer: row groups.
      peft.addAdapter('other', toy());
      const rows = peft.forward(x, { adapterNames: ['default', '__base__'] }) as Tensor;
      expectClose(tf.slice(rows, [0, 0], [1, -1]), tf.slice(adapted, [0, 0], [1, -1]));
      expectClose(tf.slice(rows, [1, 0], [1, -1]), tf.slice(base, [1, 0], [1, -1]));

      const combine = thrown(() => peft.addWeightedAdapter(['default', 'other'], [1, 1], 'mix'));
      expect(combine.code).toBe('UNSUPPORTED_FEATURE');
      expect(combine.message).toContain(
        'Toy scale adapters cannot be combined; methods whose adapters can: lora',
      );

      peft.deleteAdapter('other');
      const back = peft.unload();
      expect(back.getSubmodule('lin')).toBeInstanceOf(Linear);
      expectClose(back.forward(x) as Tensor, base);
    });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, base]);
  });

  it('reports unsupported targets with the method name and its supported types', () => {
    const m = new Holder({
      lin: new Linear({ inFeatures: 3, outFeatures: 4 }),
      emb: new Embedding({ numEmbeddings: 5, embeddingDim: 3 }),
    });
    const e = thrown(() => PeftModel.wrap(m, toy({ targetModules: ['emb'] })));
    expect(e.code).toBe('UNSUPPORTED_TARGET');
    expect(e.message).toContain('cannot be wrapped by Toy scale; supported types: Linear');
  });

  it('refuses mixing methods in one model', () => {
    const m = model();
    const peft = PeftModel.wrap(m, toy());
    const e = thrown(() => peft.addAdapter('b', { type: 'lora', targetModules: ['emb_like'] }));
    expect(e.code).toBe('UNSUPPORTED_FEATURE');
    expect(e.details).toMatchObject({ held: 'toy', added: 'lora' });
  });

  it('createSharedState: once per adapter after validation, from its plan; passed to each of its layers; freed with it', () => {
    const calls: Array<{ name: string; paths: string[] }> = [];
    const given: unknown[] = [];
    let freed = 0;
    const withShared: TunerMethod<ToyConfig> = {
      ...toyMethod,
      createSharedState({ name, plan }) {
        calls.push({ name, paths: plan.planned.map((t) => t.path) });
        const t = tf.ones([2]);
        return {
          peftTensors: () => [{ peftKey: 'toy_shared', tensor: t, assign: () => {} }],
          dispose: () => {
            t.dispose();
            freed++;
          },
        };
      },
      createOrUpdateLayer(args) {
        given.push(args.shared);
        return toyMethod.createOrUpdateLayer(args);
      },
    };
    unregisterTunerMethod('toy');
    registerTunerMethod(withShared);
    try {
      const before = tf.memory().numTensors;
      const m = new Holder({
        lin: new Linear({ inFeatures: 3, outFeatures: 3 }),
        lin2: new Linear({ inFeatures: 3, outFeatures: 3 }),
      });
      const peft = PeftModel.wrap(m, toy({ targetModules: ['lin', 'lin2'] }), { adapterName: 'a' });
      expect(calls).toEqual([{ name: 'a', paths: ['lin', 'lin2'] }]);
      const shared = peft.adapterRecord('a').shared;
      expect(given).toEqual([shared, shared]);
      // A failed add creates nothing; a deleted adapter's state is freed.
      expect(thrown(() => peft.addAdapter('b', toy({ targetModules: ['nope'] }))).code).toBe(
        'TARGET_NOT_FOUND',
      );
      expect(calls).toHaveLength(1);
      peft.addAdapter('b', toy({ targetModules: ['lin'] }));
      peft.deleteAdapter('b');
      expect(freed).toBe(1);
      peft.dispose();
      expect(freed).toBe(2);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      unregisterTunerMethod('toy');
      registerTunerMethod(toyMethod);
    }
  });

  it('names the built-in methods through getTunerMethod', () => {
    expect(getTunerMethod('lora').displayName).toBe('LoRA');
    expect(getTunerMethod('ia3').approximateUnmergeWarning?.('x')).toMatch(/approximate/);
    expect(getTunerMethod('lora').approximateUnmergeWarning).toBeUndefined();
  });
});

describe('tuner core sources', () => {
  it('import no method folder and name no method in code', () => {
    const dir = join(import.meta.dirname, '../../../src/adapters/tuners');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const code = readFileSync(join(dir, f), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
      expect(code, f).not.toMatch(/from '\.\.\/(lora|ia3)\//);
      expect(code, f).not.toMatch(/'(lora|ia3)'|Lora[A-Z]\w*|Ia3\w*/);
    }
  });
});
