/**
 * The io seam: the adapters layer's core classes have no file methods and nothing patches them; the io
 * layer's `withAdapterModel` and `PeftModel` add them by subclassing, and the package exports those.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { PeftModel as TunerPeftModel } from '../../src/adapters/tuners/peft-model.js';
import { withAdapterModel as withCoreAdapterModel } from '../../src/adapters/model.js';
import { withAdapterModel } from '../../src/io/adapter-model.js';
import { loadAdapters, saveAdapters } from '../../src/io/adapter-file.js';
import { PeftModel, loadPretrained } from '../../src/io/peft-model.js';
import { savePretrained, type FileSink, type FileSource } from '../../src/io/peft.js';
import { Module } from '../../src/nn/module.js';
import * as root from '../../src/index.js';
import * as nodeEntry from '../../src/node.js';
import { cfgPre, seed, TestModel } from '../fixtures/spec-models.js';
import { TinyLM, makeIds, seed as seedLm } from '../fixtures/lora-models.js';
import { values } from '../helpers.js';

/** In-memory PEFT directory. */
function memDir(): FileSink & FileSource & { files: Map<string, Uint8Array | string> } {
  const files = new Map<string, Uint8Array | string>();
  return {
    files,
    writeFile: (p, d) => void files.set(p, d),
    readFile: (p) => {
      const d = files.get(p);
      return d === undefined ? null : typeof d === 'string' ? new TextEncoder().encode(d) : d;
    },
  };
}

describe('adapter models: file methods by composition', () => {
  it('the core mixin has no file methods; the io mixin adds them on top of it', () => {
    class Base extends Module {
      cfg = {};
    }
    const Core = withCoreAdapterModel(Base);
    const WithFiles = withAdapterModel(Base);
    expect('saveAdapters' in Core.prototype).toBe(false);
    expect('loadAdapters' in Core.prototype).toBe(false);
    expect(typeof WithFiles.prototype.saveAdapters).toBe('function');
    expect(new WithFiles()).toBeInstanceOf(Base);
  });

  it('a model built on the core mixin still saves and loads through the plain functions', () => {
    seed();
    const model = new TestModel();
    model.addAdapter('adapter_0', cfgPre);
    const bytes = model.saveAdapters();
    expect(saveAdapters(model)).toEqual(bytes); // method and function write the same bytes
    const dst = new TestModel();
    expect(loadAdapters(dst, bytes).loaded).toEqual(['adapter_0']);
    expect(dst.getEnabledAdapters()).toEqual(['adapter_0']);
  });

  it('the package entries export the io classes under the existing names, and no codec setter', () => {
    expect(root.withAdapterModel).toBe(withAdapterModel);
    expect(root.io.withAdapterModel).toBe(withAdapterModel);
    expect(nodeEntry.withAdapterModel).toBe(withAdapterModel);
    expect(root.PeftModel).toBe(PeftModel);
    expect(nodeEntry.PeftModel).toBe(PeftModel);
    expect(root.io.PeftModel).toBe(PeftModel);
    expect('setAdapterCheckpointCodec' in root.adapters).toBe(false);
    expect('setAdapterCheckpointCodec' in root).toBe(false);
  });
});

describe('PeftModel: PEFT directories by subclassing, no patching', () => {
  it('wrap and loadPretrained return the io class; the core class is not patched', async () => {
    seedLm();
    const peft = PeftModel.wrap(new TinyLM(), { type: 'lora', targetModules: ['q_proj'] });
    expect(peft).toBeInstanceOf(PeftModel);
    expect(peft).toBeInstanceOf(TunerPeftModel);
    expect('savePretrained' in TunerPeftModel.prototype).toBe(false);
    expect('loadPretrained' in TunerPeftModel).toBe(false);
    const dir = memDir();
    await peft.savePretrained(dir);
    expect([...dir.files.keys()].sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    seedLm();
    const viaStatic = await PeftModel.loadPretrained(new TinyLM(), dir);
    seedLm();
    const viaFunction = await loadPretrained(new TinyLM(), dir);
    for (const loaded of [viaStatic, viaFunction]) {
      expect(loaded).toBeInstanceOf(PeftModel);
      expect(typeof loaded.savePretrained).toBe('function');
    }
    const ids = makeIds();
    peft.eval();
    expect(values(viaStatic.forward(ids))).toEqual(values(peft.forward(ids)));
    tf.dispose([ids]);
  });

  it('a PeftModel built by the core class saves through the plain function', async () => {
    seedLm();
    const core = TunerPeftModel.wrap(new TinyLM(), { type: 'lora', targetModules: ['v_proj'] });
    expect(core).not.toBeInstanceOf(PeftModel);
    const dir = memDir();
    await savePretrained(core, dir);
    seedLm();
    const loaded = await loadPretrained(new TinyLM(), dir);
    expect(loaded.peftConfigFor('default').targetModules).toEqual(['v_proj']);
  });
});
