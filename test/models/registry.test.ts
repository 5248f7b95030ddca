import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { CharVocab } from '../../src/data/vocab.js';
import { saveModel } from '../../src/io/model-checkpoint.js';
import * as models from '../../src/models/index.js';
import { CharLM } from '../../src/models/char-lm.js';
import { EncoderClassifier } from '../../src/models/encoder-classifier.js';
import { MlpClassifier } from '../../src/models/mlp-classifier.js';
import {
  buildModel,
  isModelName,
  MODEL_NAMES,
  restoreModelFromCheckpoint,
} from '../../src/models/registry.js';
import { manualSeed } from '../../src/rng.js';
import { thrown } from '../helpers.js';
import { perturbAdapters, run } from './helpers.js';

const vocab = CharVocab.fromText('abcdefgh ');
const lmCfg = {
  vocabSize: vocab.size,
  dModel: 8,
  numLayers: 1,
  nHead: 2,
  dFF: 16,
  maxLen: 12,
  vocab: vocab.toJSON(),
};
const ids = () => tf.tensor2d([2, 3, 4, 5, 6, 7, 2, 3], [2, 4], 'int32');

describe('model registry', () => {
  it('lists the three models', () => {
    expect(MODEL_NAMES).toEqual(['char-lm', 'encoder-classifier', 'mlp-classifier']);
    expect(isModelName('mlp-classifier')).toBe(true);
    expect(isModelName('gpt')).toBe(false);
    expect(models.MODEL_NAMES).toBe(MODEL_NAMES);
    expect(models.CharLM).toBe(CharLM);
  });

  it('builds each model from its config', () => {
    const a = buildModel({ model: 'char-lm', ...lmCfg });
    const b = buildModel({ model: 'encoder-classifier', ...lmCfg, numClasses: 2 });
    const c = buildModel({ model: 'mlp-classifier', inFeatures: 4, hidden: [8], numClasses: 2 });
    expect(a).toBeInstanceOf(CharLM);
    expect(b).toBeInstanceOf(EncoderClassifier);
    expect(c).toBeInstanceOf(MlpClassifier);
    for (const m of [a, b, c]) m.dispose();
  });

  it('names an unknown or missing model and lists the valid names', () => {
    const e1 = thrown(() => buildModel({ model: 'gpt-2', ...lmCfg }));
    expect(e1.code).toBe('INVALID_CONFIG');
    expect(e1.message).toMatch(/"gpt-2".*char-lm, encoder-classifier, mlp-classifier/);
    expect(e1.details).toMatchObject({ value: 'gpt-2', valid: [...MODEL_NAMES] });
    const e2 = thrown(() => buildModel({ ...lmCfg }));
    expect(e2.code).toBe('INVALID_CONFIG');
    expect(e2.message).toMatch(/no 'model' field.*char-lm, encoder-classifier, mlp-classifier/);
    const e3 = thrown(() => buildModel('char-lm'));
    expect(e3.code).toBe('INVALID_CONFIG');
    expect(e3.message).toMatch(/expected a model config object, got the string "char-lm"/);
    const mlp = new MlpClassifier({ inFeatures: 2, hidden: [], numClasses: 2 });
    const e4 = thrown(() =>
      restoreModelFromCheckpoint({
        config: JSON.stringify({ model: 'rnn' }),
        weights: saveModel(mlp).weights,
      }),
    );
    mlp.dispose();
    expect(e4.code).toBe('INVALID_CONFIG');
    expect(e4.message).toMatch(/"rnn".*char-lm, encoder-classifier, mlp-classifier/);
  });

  it('round-trips a CharLM with an adapter bitwise', () => {
    manualSeed(2);
    const lm = new CharLM(lmCfg);
    lm.addAdapter('x', { type: 'linear', inFeatures: 8, dim: 2 });
    perturbAdapters(lm);
    const x = ids();
    const out = run(() => lm.forward(x));
    const r = restoreModelFromCheckpoint(saveModel(lm));
    expect(r).toBeInstanceOf(CharLM);
    expect(r.adapterNames()).toEqual(['x']);
    expect(Array.from(run(() => (r as CharLM).forward(x)))).toEqual(Array.from(out));
    x.dispose();
    lm.dispose();
    r.dispose();
  });

  it('refuses weights of another architecture with a clear STATE_DICT_MISMATCH', () => {
    manualSeed(3);
    const lm = new CharLM(lmCfg);
    const ckpt = saveModel(lm);
    // Same sizes, but the config names the encoder classifier.
    const forged = {
      config: JSON.stringify({
        ...JSON.parse(ckpt.config),
        model: 'encoder-classifier',
        numClasses: lmCfg.vocabSize,
      }),
      weights: ckpt.weights,
    };
    const e = thrown(() => restoreModelFromCheckpoint(forged));
    expect(e.code).toBe('STATE_DICT_MISMATCH');
    expect(e.message).toMatch(/"encoder-classifier" model/);
    expect(e.message).toMatch(
      /hold modules \[decoder, lm_head\] the model lacks, and lack \[encoder, classifier\]/,
    );
    expect(e.message).toMatch(/different architecture/);
    expect(e.details['unexpectedKeys']).toContain('lm_head.weight');
    expect(e.details['missingKeys']).toContain('classifier.weight');
    lm.dispose();
  });

  it('names the key and both shapes when only sizes differ', () => {
    manualSeed(4);
    const m = new EncoderClassifier({ ...lmCfg, numClasses: 2 });
    const ckpt = saveModel(m);
    const e = thrown(() =>
      restoreModelFromCheckpoint({
        config: JSON.stringify({ ...JSON.parse(ckpt.config), numClasses: 3 }),
        weights: ckpt.weights,
      }),
    );
    expect(e.code).toBe('STATE_DICT_MISMATCH');
    expect(e.message).toMatch(
      /'classifier.weight': copying a tensor of shape \[2, 8\], the shape in the current model is \[3, 8\]/,
    );
    m.dispose();
  });

  it('restores adapters recorded in the config and refuses a checkpoint missing their weights', () => {
    manualSeed(5);
    const m = new MlpClassifier({ inFeatures: 4, hidden: [6, 6], numClasses: 2 });
    const plain = saveModel(m);
    m.addAdapter('a', { type: 'linear', inFeatures: 6, dim: 2 });
    const withAdapter = saveModel(m);
    const e = thrown(() =>
      restoreModelFromCheckpoint({ config: withAdapter.config, weights: plain.weights }),
    );
    expect(e.code).toBe('STATE_DICT_MISMATCH');
    expect(e.message).toMatch(/missing keys: body\.layers\.0\.adapter_layer\.a\./);
    m.dispose();
  });
});
