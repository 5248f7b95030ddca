import { describe, expect, it } from 'vitest';
import * as entry from '../../src/index.js';

describe('the package entry after the recipes moved out of train', () => {
  it('keeps every recipe name at the top level and in `train`, and adds the `recipes` namespace', () => {
    const names = [
      'trainLm',
      'evaluateBpc',
      'lmLoss',
      'attachMethod',
      'adaptCharLm',
      'ADAPT_METHODS',
      'ADAPTER_NAME',
    ] as const;
    for (const name of names) {
      expect(entry[name], name).toBeDefined();
      expect(entry.train[name], `train.${name}`).toBe(entry[name]);
      expect(entry.recipes[name], `recipes.${name}`).toBe(entry[name]);
    }
    expect(entry.train.Trainer).toBe(entry.Trainer);
    expect(entry.train.AdamW).toBe(entry.AdamW);
    expect('Trainer' in entry.recipes).toBe(false);
  });
});
