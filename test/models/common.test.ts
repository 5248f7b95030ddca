import { describe, expect, it } from 'vitest';
import { CharVocab } from '../../src/data/vocab.js';
import {
  checkSequenceConfig,
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
