import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import {
  loadAdaptersFromFile,
  readModelDir,
  saveAdaptersToFile,
  saveModelToDir,
} from '../../src/io/files-by-path.js';
import { restoreModel, saveModel } from '../../src/io/model-checkpoint.js';
import { requirePathFiles } from '../../src/io/path-files.js';
import { Linear } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import '../../src/index.js';
import { cfgPre, seed, TestModel } from '../fixtures/spec-models.js';

let place: string;
beforeAll(() => {
  place = mkdtempSync(join(tmpdir(), 'adapterkit-files-by-path-'));
});
afterAll(() => rmSync(place, { recursive: true, force: true }));

/** A model that carries its config. */
class Tiny extends Module {
  static override readonly typeName: string = 'Tiny';
  readonly fc: Linear;
  constructor(readonly cfg: { inFeatures: number }) {
    super();
    this.fc = this.registerModule('fc', new Linear({ inFeatures: cfg.inFeatures, outFeatures: 2 }));
  }
}

const adapterState = (m: Module) =>
  Object.fromEntries(
    m
      .namedParameters()
      .filter(([k]) => k.includes('adapter_layer'))
      .map(([k, t]) => [k, Array.from(t.dataSync())]),
  );

describe('adapter files and model checkpoints by path', () => {
  it('importing it installs Node file access for paths', () => {
    expect(() => requirePathFiles('test')).not.toThrow();
  });

  it('saveAdaptersToFile writes one file (no temporary left) that loadAdaptersFromFile loads into a fresh model', async () => {
    seed();
    const src = new TestModel();
    src.addAdapter('decoder:adapter_0', { ...cfgPre, dim: 5 });
    for (const [k, p] of src.namedParameters())
      if (k.includes('adapter_layer')) p.assign(tf.randomNormal(p.shape));
    const file = join(place, 'adapters.safetensors');
    await saveAdaptersToFile(src, file, 'adapter_0');
    expect(readdirSync(place)).toEqual(['adapters.safetensors']);
    const dst = new TestModel();
    await loadAdaptersFromFile(dst, file, { names: 'adapter_0' });
    expect(adapterState(dst)).toEqual(adapterState(src));
    expect(Object.keys(adapterState(dst)).length).toBeGreaterThan(0);
    src.dispose();
    dst.dispose();
  });

  it('saveModelToDir writes config.json (indented, newline-terminated) and model.safetensors; readModelDir reads them back', async () => {
    const model = new Tiny({ inFeatures: 3 });
    const dir = join(place, 'model');
    await saveModelToDir(model, dir);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe('{\n  "inFeatures": 3\n}\n');
    const ckpt = await readModelDir(dir);
    expect(JSON.parse(ckpt.config)).toEqual({ inFeatures: 3 });
    expect(Buffer.from(ckpt.weights).equals(Buffer.from(saveModel(model).weights))).toBe(true);
    const again = restoreModel((cfg: { inFeatures: number }) => new Tiny(cfg), ckpt);
    expect(Array.from(again.fc.weight.dataSync())).toEqual(Array.from(model.fc.weight.dataSync()));
    // Saving again replaces the pair as a whole.
    const wider = new Tiny({ inFeatures: 4 });
    await saveModelToDir(wider, dir);
    expect(JSON.parse((await readModelDir(dir)).config)).toEqual({ inFeatures: 4 });
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(true);
    model.dispose();
    again.dispose();
    wider.dispose();
  });
});
