import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { loadSpamSplits, type SpamSplits } from '../../src/data/spamassassin.js';
import { CharVocab } from '../../src/data/vocab.js';
import { CharLM } from '../../src/models/char-lm.js';
import { EncoderClassifier } from '../../src/models/encoder-classifier.js';
import type { Embedding } from '../../src/nn/layers.js';
import { manualSeed } from '../../src/rng.js';
import {
  DEFAULT_SPAM_TRAINING,
  evaluateClassifier,
  trainSpamClassifier,
  type TrainSpamClassifierOptions,
} from '../../src/recipes/classify.js';
import { maxAbsDiff, thrownAsync, thrown } from '../helpers.js';

const MAX_LEN = 48;
let full: SpamSplits;
/** 8 spam + 8 ham training messages (few enough to fit in 30 updates of a tiny model), the full test split. */
let small: SpamSplits;

beforeAll(() => {
  full = loadSpamSplits({ maxChars: MAX_LEN });
  const spam = full.train.filter((x) => x.label === 1).slice(0, 8);
  const ham = full.train.filter((x) => x.label === 0).slice(0, 8);
  const train = [...spam, ...ham];
  small = { train, test: full.test, counts: { ...full.counts, train: { spam: 8, ham: 8, total: 16 } } };
});

const tiny = (over: Partial<TrainSpamClassifierOptions> = {}): TrainSpamClassifierOptions => ({
  steps: 30,
  batch: 8,
  maxLen: MAX_LEN,
  lr: 1e-2,
  seed: 3,
  init: 'scratch',
  model: { dModel: 16, numLayers: 1, nHead: 2 },
  splits: small,
  ...over,
});

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('spam classification task', () => {
  it('reduces the training loss from scratch and keeps the tensor count flat', async () => {
    const counts: number[] = [];
    const r = await trainSpamClassifier(tiny({ onStep: () => counts.push(tf.memory().numTensors) }));
    expect(r.losses).toHaveLength(30);
    expect(mean(r.losses.slice(-5))).toBeLessThan(mean(r.losses.slice(0, 5)) * 0.8);
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(r.model.cfg).toMatchObject({
      model: 'encoder-classifier',
      maxLen: MAX_LEN,
      numClasses: 2,
      dModel: 16,
    });
    expect(CharVocab.fromJSON(r.model.cfg.vocab).equals(r.vocab)).toBe(true);
    expect(r.trainableParameters).toBe(r.model.numParameters());
    expect(r.model.training).toBe(true);
    const ev = evaluateClassifier(r.model, small.train, { batch: 16 });
    expect(ev.count).toBe(16);
    expect(ev.accuracy).toBeGreaterThan(0.5);
    expect(ev.confusion!.tp + ev.confusion!.fp + ev.confusion!.tn + ev.confusion!.fn).toBe(16);
    expect(r.model.training).toBe(true); // modes restored
    r.model.dispose();
  });

  it('is reproducible for a seed', async () => {
    const a = await trainSpamClassifier(tiny({ steps: 3 }));
    const b = await trainSpamClassifier(tiny({ steps: 3 }));
    expect(b.losses).toEqual(a.losses);
    a.model.dispose();
    b.model.dispose();
  });

  it('evaluates a split: accuracy, exact mean loss, confusion counts', () => {
    manualSeed(1);
    const vocab = CharVocab.fromText(full.train.slice(0, 200).map((x) => x.text));
    const m = new EncoderClassifier({
      vocabSize: vocab.size,
      dModel: 8,
      numLayers: 1,
      nHead: 2,
      dFF: 16,
      maxLen: MAX_LEN,
      numClasses: 2,
      vocab: vocab.toJSON(),
    });
    const a = evaluateClassifier(m, full.test, { limit: 40, batch: 7 });
    const b = evaluateClassifier(m, full.test, { limit: 40, batch: 40 });
    expect(a.count).toBe(40);
    expect(a.accuracy).toBe(b.accuracy);
    expect(a.loss).toBeCloseTo(b.loss, 5);
    expect(a.accuracy).toBeGreaterThanOrEqual(0);
    expect(a.accuracy).toBeLessThanOrEqual(1);
    const noVocab = new EncoderClassifier({ ...m.cfg, vocab: undefined, adapters: undefined });
    expect(thrown(() => evaluateClassifier(noVocab, full.test)).message).toMatch(/records no vocabulary/);
    expect(thrown(() => evaluateClassifier(m, [])).code).toBe('INVALID_INPUT');
    expect(thrown(() => evaluateClassifier(m, full.test, { maxLen: 99 })).message).toMatch(/\[1, 48\]/);
    m.dispose();
    noVocab.dispose();
  });

  it("starts from a CharLM's vocabulary and character embeddings", async () => {
    const vocab = CharVocab.fromText(small.train.map((x) => x.text));
    manualSeed(8);
    const lm = new CharLM({
      vocabSize: vocab.size,
      dModel: 16,
      numLayers: 1,
      nHead: 2,
      dFF: 32,
      maxLen: 64,
      vocab: vocab.toJSON(),
    });
    // lr tiny and one step: the copied embeddings barely move.
    const r = await trainSpamClassifier(
      tiny({ steps: 1, lr: 1e-9, init: { lm, positions: true }, model: { numLayers: 1 } }),
    );
    expect(r.vocab.equals(vocab)).toBe(true);
    expect(r.model.cfg.dModel).toBe(16);
    const w = (m: { getChild(n: string): unknown }, n: string) => (m.getChild(n) as Embedding).weight;
    expect(maxAbsDiff(w(r.model, 'tok_emb'), w(lm, 'tok_emb'))).toBeLessThan(1e-6);
    const e = await thrownAsync(() => trainSpamClassifier(tiny({ init: { lm }, model: { dModel: 32 } })));
    expect(e.message).toMatch(/model.dModel 32 differs from the CharLM's dModel 16/);
    r.model.dispose();
    lm.dispose();
  });

  it('trains only the adapter and the head when an adapter is given', async () => {
    const opts = tiny({ steps: 5, adapter: { type: 'linear', inFeatures: 16, dim: 4 } });
    const r = await trainSpamClassifier(opts);
    const trainable = r.model
      .namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([k]) => k);
    expect(trainable.length).toBeGreaterThan(2);
    expect(trainable.every((k) => k.includes('.adapter_layer.spam.') || k.startsWith('classifier.'))).toBe(
      true,
    );
    expect(r.trainableParameters).toBe(16 * 2 + 4 * 16 * 2 + (16 * 2 + 2)); // norm, down + up, head
    // The frozen base kept its initial weights: rebuild it from the same seed and compare.
    manualSeed(opts.seed!);
    const fresh = new EncoderClassifier({ ...r.model.cfg, adapters: undefined });
    for (const [k, p] of fresh.namedParameters()) {
      if (k.startsWith('classifier.')) continue;
      const trained = r.model.namedParameters().find(([q]) => q === k)![1];
      expect(maxAbsDiff(trained, p)).toBe(0);
    }
    fresh.dispose();
    r.model.dispose();
  });

  it('rejects bad options by name', async () => {
    expect((await thrownAsync(() => trainSpamClassifier(tiny({ steps: 0 })))).message).toMatch(
      /steps must be an integer ≥ 1, got the number 0/,
    );
    expect((await thrownAsync(() => trainSpamClassifier(tiny({ lr: -1 })))).message).toMatch(
      /lr must be a number > 0/,
    );
    const e = await thrownAsync(() => trainSpamClassifier(tiny({ init: 'lm' as never })));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toMatch(/init must be 'scratch' or \{ lm: CharLM \}/);
    expect(DEFAULT_SPAM_TRAINING).toMatchObject({ steps: 150, batch: 16, maxLen: 128 });
  });
});
