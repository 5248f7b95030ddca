import { describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import { Average, Fuse, Stack } from '../../../src/adapters/composition/index.js';
import { parseAdapterFile } from '../../../src/io/adapter-file.js';
import { restoreModel, saveModel } from '../../../src/io/model-checkpoint.js';
import { parseSafetensors } from '../../../src/io/safetensors.js';
import { safetensorsFromTensors, tensorsFromSafetensors } from '../../../src/io/safetensors-tf.js';
import { thrown } from '../../helpers.js';
import { values } from '../../helpers.js';
import { input, modelWith, randomize, TinyModel } from './fixture.js';

describe('composition in adapter files', () => {
  it("B-311 saveAdapters(['a','b']) with Average('a','b') active restores the setup and outputs bit for bit in a fresh model; saving only a saves no setup", () => {
    const model = modelWith(['a', 'b']);
    model.setActiveSetup(Average('a', 'b', { weights: [1, 3] }));
    const x = input(3);
    const want = model.forward(x);
    const bytes = model.saveAdapters(['a', 'b']);

    const fresh = new TinyModel();
    fresh.loadStateDict(new Map([...model.stateDict()].filter(([k]) => !k.includes('adapter_'))), {
      strict: false,
    });
    fresh.eval();
    fresh.loadAdapters(bytes);
    expect(fresh.getActiveSetup()).toEqual(Average('a', 'b', { weights: [1, 3] }));
    const got = fresh.forward(x);
    expect(values(got)).toEqual(values(want));

    const onlyA = parseAdapterFile(model.saveAdapters('a'));
    expect(JSON.stringify(onlyA.config)).not.toContain('activeSetup');
    const fresh2 = new TinyModel();
    fresh2.loadAdapters(model.saveAdapters('a'));
    expect(fresh2.getActiveSetup()).toBeNull();
    tf.dispose([x, want, got]);
    [model, fresh, fresh2].forEach((m) => m.dispose());
  });

  it('fusion layers are saved and loaded with their adapters (and renamed with them); files without composition keep their layout', () => {
    const model = modelWith(['a', 'b', 'c']);
    const plain = parseAdapterFile(model.saveAdapters());
    expect(plain.file.metadata?.fusionIndex).toBeUndefined();
    expect(JSON.stringify(plain.config)).not.toContain('adapterCompositionCfg');

    model.addFusion(['a', 'b']);
    randomize(model.getFusionLayers('a,b')[0]!, 9);
    model.setActiveSetup(Stack('c', Fuse('a', 'b')));
    const x = input(2);
    const want = model.forward(x);
    const bytes = model.saveAdapters();
    const parsed = parseAdapterFile(bytes);
    expect(Object.keys(parsed.fusionIndex)).toEqual(['a,b']);

    const fresh = new TinyModel();
    fresh.loadStateDict(new Map([...model.stateDict()].filter(([k]) => !k.includes('adapter_'))), {
      strict: false,
    });
    fresh.eval();
    fresh.loadAdapters(bytes);
    expect(fresh.listFusions()).toEqual(['a,b']);
    const got = fresh.forward(x);
    expect(values(got)).toEqual(values(want));

    // Loaded under other names, the fusion and setup follow the names.
    const renamed = new TinyModel();
    renamed.loadAdapters(bytes, { rename: { a: 'x', b: 'y', c: 'z' } });
    expect(renamed.listFusions()).toEqual(['x,y']);
    expect(renamed.getActiveSetup()).toEqual(Stack('z', Fuse('x', 'y')));

    // Saving a and c only: no fusion (b is missing), no setup.
    const partial = parseAdapterFile(model.saveAdapters(['a', 'c']));
    expect(Object.keys(partial.fusionIndex)).toEqual([]);
    expect(JSON.stringify(partial.config)).not.toContain('adapterCompositionCfg');
    tf.dispose([x, want, got]);
    [model, fresh, renamed].forEach((m) => m.dispose());
  });

  it('a model rebuilt from its config (setupAdapters) has its fusion layers and setup again', () => {
    const model = modelWith(['a', 'b']);
    model.addFusion(['a', 'b']);
    model.setActiveSetup(Fuse('a', 'b'));
    const rebuilt = new TinyModel(structuredClone(model.cfg));
    rebuilt.loadStateDict(model.stateDict());
    rebuilt.eval();
    expect(rebuilt.listFusions()).toEqual(['a,b']);
    const x = input(2);
    const [a, b] = [model.forward(x), rebuilt.forward(x)];
    expect(values(b)).toEqual(values(a));
    // Whole-model checkpoints go the same way.
    const restored = restoreModel((cfg) => new TinyModel(cfg), saveModel(model)).eval();
    expect(restored.getActiveSetup()).toEqual(Fuse('a', 'b'));
    const c = restored.forward(x);
    expect(values(c)).toEqual(values(a));
    tf.dispose([x, a, b, c]);
    model.dispose();
    rebuilt.dispose();
    restored.dispose();
  });

  it('a file whose composition part is malformed is rejected with a clear error and the model is left as it was', () => {
    const model = modelWith(['a', 'b']);
    model.addFusion(['a', 'b']);
    model.setActiveSetup(Fuse('a', 'b'));
    const bytes = model.saveAdapters();
    type StoredComposition = {
      activeSetup: unknown;
      fusions: Record<string, { children: unknown; config: Record<string, unknown> }>;
    };
    const rewrite = (edit: (cfg: StoredComposition) => void): Uint8Array => {
      const md = { ...parseSafetensors(bytes).metadata! };
      const cfg = JSON.parse(md.config!);
      edit(cfg.globalCfg.adapterCompositionCfg);
      md.config = JSON.stringify(cfg);
      const ts = tensorsFromSafetensors(bytes);
      try {
        return safetensorsFromTensors(ts, { metadata: md });
      } finally {
        tf.dispose([...ts.values()]);
      }
    };
    const cases: Array<[Uint8Array, string, string]> = [
      [
        rewrite((c) => (c.activeSetup = { type: 'fuse', children: [{ type: 'parallel', children: ['a'] }] })),
        'INVALID_CONFIG',
        'Parallel',
      ],
      [rewrite((c) => (c.fusions['a,b'].config.temperature = 'hot')), 'INVALID_CONFIG', 'temperature'],
      [rewrite((c) => (c.fusions['a,b'].children = 'a,b')), 'CHECKPOINT_FORMAT', "fusion 'a,b'"],
    ];
    const plain = new TinyModel();
    const baseCount = plain.numParameters();
    plain.dispose();
    for (const [file, code, text] of cases) {
      const fresh = new TinyModel();
      const e = thrown(() => fresh.loadAdapters(file));
      expect(e.code).toBe(code);
      expect(e.message).toContain(text);
      expect(fresh.adapterNames()).toEqual([]);
      expect(fresh.listFusions()).toEqual([]);
      expect(fresh.getActiveSetup()).toBeNull();
      expect(fresh.numParameters()).toBe(baseCount);
      fresh.dispose();
    }
    model.dispose();
  });
});
