import { describe, expect, it } from 'vitest';
import { CharVocab } from '../../src/data/vocab.js';
import '../../src/adapters/builtins.js';
import type { AdapterModelConfig } from '../../src/adapters/model.js';
import { Linear } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import { TransformerEncoder } from '../../src/nn/transformer.js';
import {
  buildSequenceModel,
  checkSequenceConfig,
  withBuiltinAdapters,
  requireChoice,
  requirePositiveInt,
  type SequenceModelConfig,
} from '../../src/models/common.js';
import { thrown } from '../helpers.js';

const base: SequenceModelConfig = { vocabSize: 12, dModel: 8, numLayers: 1, nHead: 2, dFF: 16, maxLen: 6 };

describe('model config checks', () => {
  it('requirePositiveInt returns an integer ≥ 1 and names the model, field and value otherwise', () => {
    expect(requirePositiveInt({ n: 3 }, 'n', 'M')).toBe(3);
    for (const bad of [0, -1, 1.5, '3', undefined]) {
      const e = thrown(() => requirePositiveInt({ n: bad }, 'n', 'MyModel'));
      expect(e.code).toBe('INVALID_CONFIG');
      expect(e.message).toContain('MyModel config: n must be an integer ≥ 1');
      expect(e.details).toMatchObject({ field: 'n' });
    }
  });

  it('requireChoice gives the value, or the fallback when absent, and lists the valid choices otherwise', () => {
    const kinds = ['a', 'b'] as const;
    expect(requireChoice({ k: 'b' }, 'k', kinds, 'a', 'M')).toBe('b');
    expect(requireChoice({}, 'k', kinds, 'a', 'M')).toBe('a');
    const e = thrown(() => requireChoice({ k: 'c' }, 'k', kinds, 'a', 'M'));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain('M config: k "c" is not one of: a, b');
    expect(e.details).toEqual({ field: 'k', valid: ['a', 'b'] });
  });

  it('checkSequenceConfig returns the positional kind (learned by default)', () => {
    expect(checkSequenceConfig(base, 'CharLM')).toBe('learned');
    expect(checkSequenceConfig({ ...base, positional: 'sinusoidal' }, 'CharLM')).toBe('sinusoidal');
  });

  it('checkSequenceConfig rejects bad sizes, extra fields, an unknown positional kind and nHead not dividing dModel', () => {
    expect(thrown(() => checkSequenceConfig({ ...base, dFF: 0 }, 'CharLM')).message).toContain(
      'CharLM config: dFF must be an integer ≥ 1',
    );
    expect(thrown(() => checkSequenceConfig(base, 'EncoderClassifier', ['numClasses'])).message).toContain(
      'EncoderClassifier config: numClasses must be an integer ≥ 1',
    );
    expect(
      thrown(() => checkSequenceConfig({ ...base, positional: 'rotary' as never }, 'CharLM')).message,
    ).toContain('learned, sinusoidal');
    const e = thrown(() => checkSequenceConfig({ ...base, nHead: 3 }, 'CharLM'));
    expect(e.message).toContain('dModel (8) must be divisible by nHead (3)');
    expect(e.details).toMatchObject({ field: 'nHead', value: 3 });
  });

  it('checkSequenceConfig requires a stored vocabulary to have vocabSize entries', () => {
    const vocab = CharVocab.fromText('hello world');
    expect(checkSequenceConfig({ ...base, vocabSize: vocab.size, vocab: vocab.toJSON() }, 'CharLM')).toBe(
      'learned',
    );
    const e = thrown(() =>
      checkSequenceConfig({ ...base, vocabSize: vocab.size + 1, vocab: vocab.toJSON() }, 'CharLM'),
    );
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain('differs from the size of the stored vocabulary');
    expect(e.details).toMatchObject({ field: 'vocabSize', expected: vocab.size });
  });
});

describe('building the reference models', () => {
  type TinyConfig = SequenceModelConfig & AdapterModelConfig & { numClasses: number };
  class Tiny extends Module {
    readonly cfg: TinyConfig & { model: 'tiny' };
    constructor(cfg: TinyConfig) {
      super();
      this.cfg = buildSequenceModel(this, cfg, 'tiny', {
        stack: ['encoder', TransformerEncoder],
        head: ['out', cfg.numClasses],
        extraFields: ['numClasses'],
      });
    }
  }

  it('buildSequenceModel registers embeddings, the stack and the head, and stores a copy of the config', () => {
    const cfg = { ...base, numClasses: 3 };
    const m = new Tiny(cfg);
    expect(m.cfg).toEqual({ ...cfg, model: 'tiny', positional: 'learned' });
    expect(m.cfg).not.toBe(cfg);
    expect([...m.namedChildren()].map(([n]) => n)).toEqual(['tok_emb', 'pos_emb', 'encoder', 'out']);
    expect((m.getChild('out') as Linear).weight.shape).toEqual([3, 8]);
    expect((m.getChild('encoder') as TransformerEncoder).blocks()).toHaveLength(1);
    expect(thrown(() => new Tiny({ ...cfg, numClasses: 0 })).message).toContain('numClasses');
    m.dispose();
  });

  it('withBuiltinAdapters routes adapters to the layout module, sets the LoRA defaults and restores recorded adapters', () => {
    class Adaptable extends withBuiltinAdapters(Tiny, {
      module: 'encoder',
      outputLayer: 'out',
      loraTargets: ['q_proj'],
    }) {}
    const cfg = { ...base, numClasses: 3 };
    const m = new Adaptable(cfg);
    expect(m.adapterModuleNames).toEqual(['', 'encoder']);
    expect(m.defaultAdapterModuleName).toBe('encoder');
    expect(m.defaultLoraTargets).toEqual(['q_proj']);
    expect(m.outputLayerPath).toBe('out');
    m.addAdapter('task', { type: 'linear', inFeatures: 8, dim: 2 });
    expect(m.adapterNames()).toEqual(['task']);
    const again = new Adaptable(m.cfg);
    expect(again.adapterNames()).toEqual(['task']);
    m.dispose();
    again.dispose();
  });
});
