import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTextCorpus, loadTuningSplit, saveModelToDir } from '../../src/node.js';
import { CharVocab } from '../../src/data/vocab.js';
import { CharLM } from '../../src/models/char-lm.js';
import { encodeCorpus, loadBaseModel } from '../../src/recipes/base-model.js';
import { manualSeed } from '../../src/rng.js';
import { thrownAsync } from '../helpers.js';

const root = mkdtempSync(path.join(tmpdir(), 'adapterkit-base-model-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const vocab = CharVocab.fromText('the cat sat on the mat.\n');

async function savedTinyLm(name: string): Promise<{ dir: string; model: CharLM }> {
  manualSeed(2);
  const model = new CharLM({
    vocabSize: vocab.size,
    dModel: 8,
    numLayers: 1,
    nHead: 2,
    dFF: 16,
    maxLen: 8,
    vocab: vocab.toJSON(),
  });
  const dir = path.join(root, name);
  await saveModelToDir(model, dir);
  return { dir, model };
}

describe('loadBaseModel', () => {
  it('restores the char LM and its vocabulary from a model directory', async () => {
    const { dir, model } = await savedTinyLm('ok');
    const loaded = await loadBaseModel(dir);
    expect(loaded.dir).toBe(dir);
    expect(loaded.vocab.toJSON()).toEqual(vocab.toJSON());
    expect(loaded.model.cfg.dModel).toBe(8);
    const weights = (m: CharLM) => m.namedParameters().map(([k, v]) => [k, Array.from(v.dataSync())]);
    expect(weights(loaded.model)).toEqual(weights(model));
    model.dispose();
    loaded.model.dispose();
  });

  it('names what is wrong: no directory, a file, bad JSON, another model, no vocabulary', async () => {
    const missing = await thrownAsync(() => loadBaseModel(path.join(root, 'nope')));
    expect(missing.code).toBe('INVALID_INPUT');
    expect(missing.message).toContain('no such directory');

    const file = path.join(root, 'file.bin');
    writeFileSync(file, 'x');
    const isFile = await thrownAsync(() => loadBaseModel(file));
    expect(isFile.code).toBe('INVALID_INPUT');
    expect(isFile.message).toContain(
      'is a file; --base takes a model directory (config.json + model.safetensors)',
    );

    const { dir, model } = await savedTinyLm('broken');
    model.dispose();
    const config = path.join(dir, 'config.json');
    writeFileSync(config, '{not json');
    const badJson = await thrownAsync(() => loadBaseModel(dir));
    expect(badJson.code).toBe('CHECKPOINT_FORMAT');
    expect(badJson.message).toContain('config.json is not valid JSON');

    writeFileSync(config, JSON.stringify({ model: 'encoder-classifier' }));
    const other = await thrownAsync(() => loadBaseModel(dir));
    expect(other.code).toBe('INVALID_CONFIG');
    expect(other.message).toContain(
      `holds a "encoder-classifier" model; this command needs a 'char-lm' checkpoint`,
    );

    writeFileSync(config, JSON.stringify({ model: 'char-lm' }));
    const noVocab = await thrownAsync(() => loadBaseModel(dir));
    expect(noVocab.code).toBe('CHECKPOINT_FORMAT');
    expect(noVocab.message).toContain("has no vocabulary ('vocab')");
  });
});

describe('encodeCorpus', () => {
  it('encodes the standard and the tuning splits of a corpus', () => {
    const corpus = loadTextCorpus('mobydick');
    const tuning = loadTuningSplit('mobydick');
    const v = CharVocab.fromText(corpus.train + corpus.heldOut);
    // Compared as bytes: a deep equality over a million ids is slow.
    const same = (a: Int32Array, b: Int32Array) =>
      a.length > 0 &&
      Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
        Buffer.from(b.buffer, b.byteOffset, b.byteLength),
      );
    expect(same(encodeCorpus(v, 'mobydick', 'heldOut'), v.encode(corpus.heldOut))).toBe(true);
    expect(same(encodeCorpus(v, 'mobydick', 'train'), v.encode(corpus.train))).toBe(true);
    expect(same(encodeCorpus(v, 'mobydick', 'tuneTrain'), v.encode(tuning.train))).toBe(true);
    expect(same(encodeCorpus(v, 'mobydick', 'validation'), v.encode(tuning.validation))).toBe(true);
  });
});
