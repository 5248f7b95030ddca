import { beforeEach, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import { z } from 'zod';
import { AdapterModule, registerAdapterType, configField } from '../../src/adapters/index.js';
import {
  loadAdapters,
  parseSafetensors,
  saveAdapters,
  writeSafetensors,
  encodeFloat32,
} from '../../src/io/index.js';
import { Linear } from '../../src/nn/layers.js';
import '../../src/index.js';
import { cfgPre, routing, seed, TestModel } from '../fixtures/spec-models.js';
import { thrown } from '../helpers.js';

const small = { ...cfgPre, dim: 5 };

/** The state dict of an adapter layer, as plain arrays. */
function layerState(host: TestModel['encoder']): Record<string, number[]> {
  const layer = host.peekAdapterLayer();
  if (!layer) return {};
  return Object.fromEntries([...layer.stateDict()].map(([k, t]) => [k, Array.from(t.dataSync())]));
}

/** Gives every adapter parameter distinct values so loads are observable. */
function randomize(model: TestModel): void {
  for (const [path, p] of model.namedParameters())
    if (path.includes('adapter_layer')) p.assign(tf.randomNormal(p.shape));
}

function metaOf(model: TestModel) {
  return model.cfg.adapters!.globalCfg!.adapterMetaCfg!;
}

function tensorBytes(bytes: Uint8Array): number {
  return [...parseSafetensors(bytes).tensors.values()].reduce((n, e) => n + e.data.length, 0);
}

beforeEach(() => seed());

describe('adapter files (SPEC §2.11, §3.7)', () => {
  it('B-110 saveAdapters before any add throws NO_ADAPTERS', () => {
    expect(thrown(() => new TestModel().saveAdapters()).code).toBe('NO_ADAPTERS');
  });

  it('B-111 a decoder adapter saved by name holds only its tensors and loads bitwise into a fresh model', () => {
    const src = new TestModel();
    src.addAdapter('decoder:adapter_0', small);
    randomize(src);
    const bytes = src.saveAdapters('adapter_0');
    const adapter = src.decoder.getAdapterModule('adapter_0')!;
    expect(tensorBytes(bytes)).toBe(4 * adapter.numParameters());
    const dst = new TestModel();
    dst.loadAdapters(bytes, { names: 'adapter_0' });
    expect(dst.numParameters()).toBe(src.numParameters());
    expect(dst.encoder.isAdapterAvailable()).toBe(false);
    expect(metaOf(dst).modules.adapter_0).toBe('decoder');
    expect(layerState(dst.decoder)).toEqual(layerState(src.decoder));
  });

  it('B-112 a global adapter loads with names omitted or given', () => {
    const src = new TestModel();
    src.addAdapter('adapter_0', small);
    randomize(src);
    const bytes = src.saveAdapters('adapter_0');
    for (const names of [undefined, 'adapter_0']) {
      const dst = new TestModel();
      dst.loadAdapters(bytes, names ? { names } : {});
      expect(metaOf(dst).modules.adapter_0).toBe('');
      expect(layerState(dst.encoder)).toEqual(layerState(src.encoder));
      expect(dst.decoder.isAdapterAvailable()).toBe(false);
    }
  });

  it('B-113 a subset save loads with or without names', () => {
    const src = new TestModel();
    src.addAdapter('decoder:adapter_0', small);
    src.addAdapter('encoder:adapter_1', small);
    randomize(src);
    const bytes = src.saveAdapters('adapter_0');
    for (const names of [undefined, 'adapter_0']) {
      const dst = new TestModel();
      dst.loadAdapters(bytes, names ? { names } : {});
      expect(dst.numParameters()).toBeLessThan(src.numParameters());
      expect(dst.encoder.isAdapterAvailable()).toBe(false);
      expect(metaOf(dst).modules.adapter_0).toBe('decoder');
      expect(layerState(dst.decoder)).toEqual(layerState(src.decoder));
    }
  });

  it('B-114 two global adapters saved to two files load one after the other', () => {
    const src = new TestModel();
    src.addAdapter('adapter_0', small);
    src.addAdapter('adapter_1', small);
    randomize(src);
    const f0 = src.saveAdapters('adapter_0');
    const f1 = src.saveAdapters('adapter_1');
    const dst = new TestModel();
    dst.loadAdapters(f0);
    dst.loadAdapters(f1);
    expect(dst.numParameters()).toBe(src.numParameters());
    expect(dst.getEnabledAdapters()).toEqual(['adapter_0', 'adapter_1']);
    expect(layerState(dst.encoder)).toEqual(layerState(src.encoder));
  });

  it('B-115 loading one adapter of a two-adapter file', () => {
    const src = new TestModel();
    src.addAdapter('decoder:adapter_0', small);
    src.addAdapter('adapter_1', small);
    randomize(src);
    const dst = new TestModel();
    dst.loadAdapters(src.saveAdapters(), { names: 'decoder:adapter_0' });
    expect(dst.numParameters()).toBeLessThan(src.numParameters());
    expect(dst.encoder.isAdapterAvailable()).toBe(false);
    expect(metaOf(dst).modules.adapter_0).toBe('decoder');
    expect(layerState(dst.decoder)).toEqual(layerState(src.decoder));
  });

  it('B-116 a decoder adapter saved by bare name has entry key decoder:adapter_0 and loads either way', () => {
    const src = new TestModel();
    src.addAdapter('decoder:adapter_0', small);
    const bytes = src.saveAdapters('adapter_0');
    const index = JSON.parse(parseSafetensors(bytes).metadata!.index!);
    expect(Object.keys(index)).toEqual(['decoder:adapter_0']);
    for (const names of ['adapter_0', 'decoder:adapter_0']) {
      const dst = new TestModel();
      expect(dst.loadAdapters(bytes, { names }).loaded).toEqual(['adapter_0']);
      expect(dst.decoder.getEnabledAdapters()).toEqual(['adapter_0']);
    }
  });

  it("B-117 a name absent from the file throws CHECKPOINT_KEY_MISSING listing the file's keys", () => {
    const src = new TestModel();
    src.addAdapter('decoder:adapter_0', small);
    const dst = new TestModel();
    const err = thrown(() => dst.loadAdapters(src.saveAdapters(), { names: 'nope' }));
    expect(err.code).toBe('CHECKPOINT_KEY_MISSING');
    expect(err.message).toContain('nope');
    expect(err.message).toContain('decoder:adapter_0');
    expect(dst.cfg.adapters).toBeUndefined();
  });

  it('B-118 loading an adapter the model has throws DUPLICATE_ADAPTER; a failing second name adds nothing', () => {
    const src = new TestModel();
    src.addAdapter('adapter_0', small);
    src.addAdapter('adapter_1', small);
    const bytes = src.saveAdapters();
    const dst = new TestModel();
    dst.addAdapter('adapter_1', small);
    const count = dst.numParameters();
    expect(thrown(() => dst.loadAdapters(bytes, { names: 'adapter_1' })).code).toBe('DUPLICATE_ADAPTER');
    expect(thrown(() => dst.loadAdapters(bytes, { names: ['adapter_0', 'adapter_1'] })).code).toBe(
      'DUPLICATE_ADAPTER',
    );
    expect(dst.adapterNames()).toEqual(['adapter_1']);
    expect(dst.numParameters()).toBe(count);
  });

  it("B-119 saving 'ad' never captures 'ad2', and a strict load succeeds", () => {
    const src = new TestModel();
    src.addAdapter('ad', small);
    src.addAdapter('ad2', small);
    const bytes = src.saveAdapters('ad');
    const names = [...parseSafetensors(bytes).tensors.keys()];
    expect(names.every((n) => n.startsWith('ad/0/ad.'))).toBe(true);
    const dst = new TestModel();
    expect(dst.loadAdapters(bytes, { strict: true }).loaded).toEqual(['ad']);
  });

  it("B-120 a subset file stores only those adapters' configs and meta, plus the model's own globalCfg keys", () => {
    const src = new TestModel(routing('encdec'));
    src.addAdapter('adapter_0', small);
    src.addAdapter('decoder:adapter_1', small);
    const cfg = JSON.parse(parseSafetensors(src.saveAdapters('adapter_1')).metadata!.config!);
    expect(Object.keys(cfg).sort()).toEqual(['adapter_1', 'globalCfg']);
    expect(cfg.globalCfg.adapterMetaCfg).toEqual({ modules: { adapter_1: 'decoder' }, order: ['adapter_1'] });
    expect(cfg.globalCfg.encoderAdapter).toBe(true);
    expect(cfg.globalCfg.decoderAdapter).toBe(true);
  });

  it('B-121 saving an unknown name throws UNKNOWN_ADAPTER listing existing names', () => {
    const src = new TestModel();
    src.addAdapter('adapter_0', small);
    const err = thrown(() => src.saveAdapters('nope'));
    expect(err.code).toBe('UNKNOWN_ADAPTER');
    expect(err.message).toContain('adapter_0');
  });

  it('B-122 two fragments landing on one host throws CHECKPOINT_MISMATCH and rolls back', () => {
    const src = new TestModel(routing('encdec'));
    src.addAdapter('adapter_0', small);
    const bytes = src.saveAdapters();
    const dst = new TestModel(routing('enc'));
    const count = dst.numParameters();
    const err = thrown(() => dst.loadAdapters(bytes));
    expect(err.code).toBe('CHECKPOINT_MISMATCH');
    expect(err.message).toContain('2');
    expect(err.message).toContain('1');
    expect(dst.numParameters()).toBe(count);
    expect(dst.adapterNames()).toEqual([]);
  });

  /** Rewrites an adapter file with `edit` applied to its tensor map. */
  function editFile(
    bytes: Uint8Array,
    edit: (
      m: Map<string, { dtype: 'F32'; shape: number[]; data: Uint8Array }>,
      index: Record<string, string[][]>,
    ) => void,
  ) {
    const parsed = parseSafetensors(bytes);
    const tensors = new Map(
      [...parsed.tensors].map(([k, e]) => [k, { dtype: 'F32' as const, shape: e.shape, data: e.data }]),
    );
    const index = JSON.parse(parsed.metadata!.index!);
    edit(tensors, index);
    return writeSafetensors(tensors, { ...parsed.metadata!, index: JSON.stringify(index) });
  }

  it('B-123 a missing key is a strict STATE_DICT_MISMATCH; non-strict loads the rest and reports it', () => {
    const src = new TestModel();
    src.addAdapter('adapter_0', small);
    randomize(src);
    const dropped = 'adapter_0/0/adapter_0.module.1.weight';
    const bytes = editFile(src.saveAdapters(), (m, index) => {
      m.delete(dropped);
      index.adapter_0[0] = index.adapter_0[0].filter((n: string) => n !== dropped);
    });
    const strictErr = thrown(() => new TestModel().loadAdapters(bytes));
    expect(strictErr.code).toBe('STATE_DICT_MISMATCH');
    expect(strictErr.message).toContain('module.1.weight');
    const dst = new TestModel();
    const r = dst.loadAdapters(bytes, { strict: false });
    expect(r.missingKeys).toEqual(['adapter_0.module.1.weight']);
    const got = dst.encoder.getAdapterModule('adapter_0')!.stateDict().get('module.3.weight')!;
    const want = src.encoder.getAdapterModule('adapter_0')!.stateDict().get('module.3.weight')!;
    expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
  });

  it('B-124 a mis-shaped tensor is STATE_DICT_MISMATCH naming key and shapes, even non-strict', () => {
    const src = new TestModel();
    src.addAdapter('adapter_0', small);
    const key = 'adapter_0/0/adapter_0.module.1.weight';
    const bytes = editFile(src.saveAdapters(), (m) => {
      m.set(key, { dtype: 'F32', shape: [50, 5], data: m.get(key)!.data });
    });
    for (const strict of [true, false]) {
      const dst = new TestModel();
      const err = thrown(() => dst.loadAdapters(bytes, { strict }));
      expect(err.code).toBe('STATE_DICT_MISMATCH');
      expect(err.message).toContain('module.1.weight');
      expect(err.message).toContain('[50, 5]');
      expect(err.message).toContain('[5, 50]');
      expect(dst.adapterNames()).toEqual([]);
    }
  });

  it('B-125 an adapter saved disabled loads disabled', () => {
    const src = new TestModel();
    src.addAdapter('adapter_0', small);
    src.setEnabledAdapters('adapter_0', false);
    const dst = new TestModel();
    dst.loadAdapters(src.saveAdapters());
    expect(dst.getEnabledAdapters()).toEqual([]);
    expect(dst.isAdapterAvailable()).toBe(true);
  });

  it('B-126 F16 and BF16 tensors load into float32 parameters with exact widening', () => {
    const src = new TestModel();
    src.addAdapter('adapter_0', small);
    const values = [0.5, -2, 1.5, 0.25, 3];
    for (const dtype of ['F16', 'BF16'] as const) {
      const parsed = parseSafetensors(src.saveAdapters());
      const tensors = new Map(
        [...parsed.tensors].map(([k, e]) => {
          const f32 = new Float32Array(
            e.data.buffer.slice(e.data.byteOffset, e.data.byteOffset + e.data.byteLength),
          );
          f32.set(values.slice(0, Math.min(5, f32.length)));
          return [k, { dtype, shape: e.shape, data: encodeFloat32(f32, dtype) }];
        }),
      );
      const bytes = writeSafetensors(tensors, parsed.metadata);
      const dst = new TestModel();
      dst.loadAdapters(bytes);
      const w = dst.encoder.getAdapterModule('adapter_0')!.stateDict().get('module.0.weight')!;
      expect(w.dtype).toBe('float32');
      expect(Array.from(w.dataSync()).slice(0, 5)).toEqual(values);
    }
  });

  it('B-127 saving the same model twice gives byte-identical files', () => {
    const src = new TestModel();
    src.addAdapter('adapter_0', small);
    src.addAdapter('decoder:adapter_1', small);
    expect(Buffer.from(src.saveAdapters()).equals(Buffer.from(src.saveAdapters()))).toBe(true);
  });

  it("B-128 a custom adapter 'ad' with a child 'proj_ad' round-trips (only the leading 'ad.' is stripped)", () => {
    class ProjAdapter extends AdapterModule {
      static override readonly typeName: string = 'ProjAdapter';
      readonly proj_ad: Linear;
      constructor(opts: { inFeatures: number }) {
        super({});
        this.proj_ad = this.registerModule(
          'proj_ad',
          new Linear({ inFeatures: opts.inFeatures, outFeatures: opts.inFeatures }),
        );
        this.setupAdapterStrategy({ type: 'returnResult' });
      }
      override forward(y: Tensor): Tensor {
        return y;
      }
    }
    registerAdapterType('projAdapter', {
      ctor: ProjAdapter,
      schema: z.strictObject({
        type: configField.string(),
        enabled: configField.boolean().default(true),
        inFeatures: configField.positiveInt(),
      }),
      defaultStrategy: { type: 'returnResult' },
    });
    const src = new TestModel();
    src.addAdapter('ad', { type: 'projAdapter', inFeatures: 50 });
    randomize(src);
    const bytes = src.saveAdapters('ad');
    expect([...parseSafetensors(bytes).tensors.keys()]).toContain('ad/0/ad.proj_ad.weight');
    const dst = new TestModel();
    dst.loadAdapters(bytes, { strict: true });
    expect(layerState(dst.encoder)).toEqual(layerState(src.encoder));
  });

  it('loads an adapter under a new name with {rename}', () => {
    const src = new TestModel();
    src.addAdapter('decoder:adapter_0', small);
    const dst = new TestModel();
    const r = dst.loadAdapters(src.saveAdapters(), { rename: { adapter_0: 'customer_a' } });
    expect(r.loaded).toEqual(['customer_a']);
    expect(dst.decoder.getEnabledAdapters()).toEqual(['customer_a']);
    expect(metaOf(dst).modules.customer_a).toBe('decoder');
  });

  it('loadAdapters via the io function equals the model method', () => {
    const src = new TestModel();
    src.addAdapter('adapter_0', small);
    const dst = new TestModel();
    expect(loadAdapters(dst, saveAdapters(src)).loaded).toEqual(['adapter_0']);
  });
});
