import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import {
  TransformerEncoderAdapter,
  TransformerEncoderBlockAdapter,
} from '../../src/adapters/transformer-hosts.js';
import { padBatch } from '../../src/data/batching.js';
import { CharVocab } from '../../src/data/vocab.js';
import { saveModel } from '../../src/io/model-checkpoint.js';
import { CharLM } from '../../src/models/char-lm.js';
import { EncoderClassifier, type EncoderClassifierConfig } from '../../src/models/encoder-classifier.js';
import { restoreModelFromCheckpoint } from '../../src/models/registry.js';
import type { Embedding } from '../../src/nn/layers.js';
import { createRng, manualSeed } from '../../src/rng.js';
import { maxAbsDiff, thrown } from '../helpers.js';
import { perturbAdapters, run, trainablePaths } from './helpers.js';

const vocab = CharVocab.fromText('abcdefghijklmnopqrstuvwxyz .,!?');
const base: EncoderClassifierConfig = {
  vocabSize: vocab.size,
  dModel: 16,
  numLayers: 2,
  nHead: 2,
  dFF: 32,
  maxLen: 24,
  numClasses: 3,
  vocab: vocab.toJSON(),
};

function build(over: Partial<EncoderClassifierConfig> = {}, seed = 1): EncoderClassifier {
  manualSeed(seed);
  return new EncoderClassifier({ ...base, ...over });
}

const texts = ['hello world', 'spam spam spam!', 'a', 'the quick brown fox'];

/** Padded batch of `texts` (mask 1 = padding) as tensors. */
function batchOf(ts: string[], maxLen?: number) {
  const b = padBatch(
    ts.map((t) => vocab.encode(t)),
    maxLen,
  );
  return {
    ...b,
    idsT: () => tf.tensor2d(b.ids, b.shape, 'int32'),
    maskT: () => tf.tensor2d(b.mask, b.shape, 'bool'),
  };
}

describe('EncoderClassifier', () => {
  it('maps ids [B, T] (and a padding mask) to logits [B, numClasses]', () => {
    const m = build();
    const b = batchOf(texts);
    tf.tidy(() => {
      expect(m.forward(b.idsT(), b.maskT()).shape).toEqual([4, 3]);
      expect(m.forward(b.idsT()).shape).toEqual([4, 3]);
    });
    expect(m.cfg.model).toBe('encoder-classifier');
    expect(m.cfg.positional).toBe('learned');
    const keys = [...m.stateDict().keys()];
    expect(keys[0]).toBe('tok_emb.weight');
    expect(keys).toContain('pos_emb.weight');
    expect(keys).toContain('encoder.layers.1.self_attn.q_proj.weight');
    expect(keys).toContain('classifier.weight');
    expect(m.getChild('encoder')).toBeInstanceOf(TransformerEncoderAdapter);
    expect(m.defaultLoraTargets).toEqual(['q_proj', 'v_proj']);
    expect(m.outputLayerPath).toBe('classifier');
    m.dispose();
  });

  it('leaks no tensors per forward', () => {
    const m = build();
    const b = batchOf(texts);
    const ids = b.idsT();
    const mask = b.maskT();
    run(() => m.forward(ids, mask)); // warm-up (mask caches)
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run(() => m.forward(ids, mask));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, mask]);
    m.dispose();
  });

  it('ignores whatever ids sit at padded positions', () => {
    const m = build();
    m.addAdapter('a', { type: 'linear', inFeatures: 16, dim: 4 });
    perturbAdapters(m);
    const b = batchOf(texts, 20);
    const noisy = Int32Array.from(b.ids);
    const rng = createRng(3);
    for (let i = 0; i < noisy.length; i++)
      if (b.mask[i]) noisy[i] = 2 + Math.floor(rng.next() * (vocab.size - 2));
    const mask = b.maskT();
    const clean = run(() => m.forward(b.idsT(), mask));
    const dirty = run(() => m.forward(tf.tensor2d(noisy, b.shape, 'int32'), mask));
    expect(Array.from(dirty)).toEqual(Array.from(clean));
    // Without the mask the same change does move the logits (the test can fail).
    const unmasked = run(() => m.forward(tf.tensor2d(noisy, b.shape, 'int32')));
    const unmaskedClean = run(() => m.forward(b.idsT()));
    expect(Math.max(...unmasked.map((v, i) => Math.abs(v - unmaskedClean[i]!)))).toBeGreaterThan(1e-4);
    mask.dispose();
    m.dispose();
  });

  it('gives a padded row the logits of the same text alone, unpadded', () => {
    const m = build();
    const b = batchOf(texts);
    const all = run(() => m.forward(b.idsT(), b.maskT()));
    texts.forEach((t, r) => {
      const ids = vocab.encode(t);
      const alone = run(() => m.forward(tf.tensor2d(ids, [1, ids.length], 'int32')));
      for (let c = 0; c < 3; c++) expect(alone[c]!).toBeCloseTo(all[r * 3 + c]!, 5);
    });
    m.dispose();
  });

  it('accepts numeric masks and pools an all-padding row to the head bias', () => {
    const m = build();
    const b = batchOf(texts);
    const withBool = run(() => m.forward(b.idsT(), b.maskT()));
    const withInt = run(() => m.forward(b.idsT(), tf.tensor2d(b.mask, b.shape, 'int32')));
    expect(Array.from(withInt)).toEqual(Array.from(withBool));
    const full = run(() =>
      m.forward(tf.tensor2d([2, 3], [1, 2], 'int32'), tf.tensor2d([1, 1], [1, 2], 'int32')),
    );
    const bias = (m.getChild('classifier') as unknown as { bias: tf.Variable }).bias.dataSync();
    expect(Array.from(full)).toEqual(Array.from(bias));
    m.dispose();
  });

  it('supports sinusoidal positions (a non-persistent table)', () => {
    const m = build({ positional: 'sinusoidal' });
    expect([...m.stateDict().keys()].some((k) => k.startsWith('pos'))).toBe(false);
    expect(run(() => m.forward(batchOf(texts).idsT())).length).toBe(12);
    m.dispose();
  });

  it('rejects bad configs and inputs with clear errors', () => {
    const e1 = thrown(() => build({ nHead: 3 }));
    expect(e1.code).toBe('INVALID_CONFIG');
    expect(e1.message).toMatch(/dModel \(16\).*nHead \(3\)/);
    const e2 = thrown(() => build({ positional: 'rotary' as never }));
    expect(e2.code).toBe('INVALID_CONFIG');
    expect(e2.message).toMatch(/rotary.*learned, sinusoidal/);
    const e3 = thrown(() => build({ numClasses: 0 }));
    expect(e3.message).toMatch(/numClasses/);
    const e4 = thrown(() => build({ vocabSize: vocab.size + 1 }));
    expect(e4.message).toMatch(/vocabSize .* differs .*vocabulary \(\d+\)/);
    const m = build();
    const e5 = thrown(() => m.forward(tf.zeros([2, 30], 'int32')));
    expect(e5.code).toBe('INVALID_INPUT');
    expect(e5.message).toMatch(/time ≤ 24/);
    const e6 = thrown(() => m.forward(tf.zeros([2, 5], 'int32'), tf.zeros([2, 4])));
    expect(e6.code).toBe('INVALID_INPUT');
    expect(e6.message).toMatch(/keyPaddingMask .*\[2, 5\]/);
    m.dispose();
  });

  for (const name of ['encoder:a', 'a']) {
    it(`routes adapter '${name}' to every encoder block, leaving outputs unchanged at init`, () => {
      const m = build();
      const b = batchOf(texts);
      const before = run(() => m.forward(b.idsT(), b.maskT()));
      const n0 = m.numParameters();
      m.addAdapter(name, { type: 'linear', inFeatures: 999, dim: 4 }); // inFeatures is corrected to dModel
      const blocks = (m.getChild('encoder') as TransformerEncoderAdapter).blocks();
      expect(blocks).toHaveLength(2);
      for (const blk of blocks) {
        expect(blk).toBeInstanceOf(TransformerEncoderBlockAdapter);
        expect((blk as unknown as TransformerEncoderBlockAdapter).heldAdapterNames()).toEqual(['a']);
      }
      expect(m.numParameters()).toBe(n0 + 2 * (16 * 4 * 2 + 16 * 2));
      expect(m.cfg.adapters!.globalCfg!.adapterMetaCfg!.modules!['a']).toBe(
        name.includes(':') ? 'encoder' : '',
      );
      expect(m.getEnabledAdapters()).toEqual(['a']);
      const after = run(() => m.forward(b.idsT(), b.maskT()));
      expect(Array.from(after)).toEqual(Array.from(before));
      perturbAdapters(m);
      const moved = run(() => m.forward(b.idsT(), b.maskT()));
      expect(Math.max(...moved.map((v, i) => Math.abs(v - before[i]!)))).toBeGreaterThan(1e-4);
      m.dispose();
    });
  }

  it('rejects module names other than "" and "encoder"', () => {
    const m = build();
    const e = thrown(() => m.addAdapter('classifier:a', { type: 'linear', inFeatures: 16, dim: 4 }));
    expect(e.code).toBe('INVALID_MODULE_NAME');
    expect(e.message).toMatch(/'classifier'.*'', 'encoder'/);
    m.dispose();
  });

  it('freeze + unfreezeEnabledAdapters leaves only adapter parameters trainable', () => {
    const m = build();
    m.addAdapter('a', { type: 'linear', inFeatures: 16, dim: 4 });
    m.freeze();
    m.unfreezeEnabledAdapters();
    const paths = trainablePaths(m);
    expect(paths.length).toBe(2 * 4); // per block: norm weight, norm bias, down, up
    expect(paths.every((p) => p.includes('.adapter_layer.a.'))).toBe(true);
    expect(m.numParameters({ trainableOnly: true })).toBe(2 * (16 * 4 * 2 + 16 * 2));
    m.dispose();
  });

  it('round-trips through saveModel / restoreModelFromCheckpoint bitwise, adapters included', () => {
    const m = build();
    m.addAdapter('a', { type: 'linear', inFeatures: 16, dim: 4 });
    m.addAdapter('encoder:b', { type: 'linear', inFeatures: 16, dim: 2 });
    m.setEnabledAdapters('b', false);
    perturbAdapters(m);
    const b = batchOf(texts);
    const out = run(() => m.forward(b.idsT(), b.maskT()));
    const r = restoreModelFromCheckpoint(saveModel(m));
    expect(r).toBeInstanceOf(EncoderClassifier);
    const restored = r as EncoderClassifier;
    expect(restored.adapterNames()).toEqual(['a', 'b']);
    expect(restored.getEnabledAdapters()).toEqual(['a']);
    expect(restored.cfg.adapters!.globalCfg!.adapterMetaCfg!.modules).toEqual({ a: '', b: 'encoder' });
    expect(restored.numParameters()).toBe(m.numParameters());
    expect(Array.from(run(() => restored.forward(b.idsT(), b.maskT())))).toEqual(Array.from(out));
    expect(CharVocab.fromJSON(restored.cfg.vocab).equals(vocab)).toBe(true);
    m.dispose();
    restored.dispose();
  });

  describe('loadEmbeddingsFrom', () => {
    function lm(over: Record<string, unknown> = {}): CharLM {
      manualSeed(9);
      return new CharLM({
        vocabSize: vocab.size,
        dModel: 16,
        numLayers: 1,
        nHead: 2,
        dFF: 32,
        maxLen: 32,
        vocab: vocab.toJSON(),
        ...over,
      });
    }
    const weightOf = (m: { getChild(n: string): unknown }, n: string) => (m.getChild(n) as Embedding).weight;

    it("copies a compatible CharLM's character embeddings (and, on request, position rows)", () => {
      const src = lm();
      const m = build();
      m.loadEmbeddingsFrom(src);
      expect(maxAbsDiff(weightOf(m, 'tok_emb'), weightOf(src, 'tok_emb'))).toBe(0);
      expect(
        maxAbsDiff(weightOf(m, 'pos_emb'), tf.slice(weightOf(src, 'pos_emb'), [0, 0], [24, 16])),
      ).toBeGreaterThan(0);
      m.loadEmbeddingsFrom(src, { positions: true });
      expect(maxAbsDiff(weightOf(m, 'pos_emb'), tf.slice(weightOf(src, 'pos_emb'), [0, 0], [24, 16]))).toBe(
        0,
      );
      src.dispose();
      m.dispose();
    });

    it('refuses a different vocabulary, a missing vocabulary, or another width', () => {
      const other = CharVocab.fromText('abcdefghijklmnopqrstuvwxyz .,!?#');
      const m = build();
      const e1 = thrown(() => m.loadEmbeddingsFrom(lm({ vocabSize: other.size, vocab: other.toJSON() })));
      expect(e1.code).toBe('CHECKPOINT_MISMATCH');
      expect(e1.message).toMatch(/classifier vocabulary vs CharLM vocabulary/);
      const e2 = thrown(() => m.loadEmbeddingsFrom(lm({ vocab: undefined })));
      expect(e2.code).toBe('INVALID_CONFIG');
      expect(e2.message).toMatch(/missing on the CharLM/);
      const e3 = thrown(() => m.loadEmbeddingsFrom(lm({ dModel: 32 })));
      expect(e3.code).toBe('INVALID_CONFIG');
      expect(e3.message).toMatch(/dModel differs \(CharLM 32, classifier 16\)/);
      const e4 = thrown(() => m.loadEmbeddingsFrom(lm({ maxLen: 8 }), { positions: true }));
      expect(e4.message).toMatch(/8 positions/);
      m.dispose();
    });
  });
});
