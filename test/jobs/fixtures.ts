/** A tiny character LM and a small text, written to a directory, for queue tests that must run fast. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CharVocab } from '../../src/data/vocab.js';
import { saveModelToDir } from '../../src/io/files-by-path.js';
import { CharLM } from '../../src/models/char-lm.js';
import { manualSeed } from '../../src/rng.js';

/** A few hundred characters of repetitive text: enough windows for training and the held-out tenth. */
export const TINY_TEXT = Array.from(
  { length: 60 },
  (_, i) => `line ${i % 7}: the cat sat on the mat and the dog ran.\n`,
).join('');

/** Writes a 1-layer, 16-wide char LM to `<dir>/base` and the text to `<dir>/text.txt`; returns both paths. */
export async function writeTinyBase(dir: string): Promise<{ base: string; text: string }> {
  manualSeed(7);
  const vocab = CharVocab.fromText(TINY_TEXT);
  const model = new CharLM({
    vocabSize: vocab.size,
    dModel: 16,
    numLayers: 1,
    nHead: 2,
    dFF: 32,
    maxLen: 16,
    vocab: vocab.toJSON(),
  });
  const base = join(dir, 'base');
  await saveModelToDir(model, base);
  model.dispose();
  const text = join(dir, 'text.txt');
  await writeFile(text, TINY_TEXT);
  return { base, text };
}
