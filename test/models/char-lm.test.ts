import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { CharLM } from '../../src/models/char-lm.js';
import { createRng, manualSeed } from '../../src/rng.js';

describe('CharLM sampling', () => {
  it('generateAsync draws exactly what generate draws, restores the mode and leaks no tensor', async () => {
    manualSeed(3);
    const lm = new CharLM({ vocabSize: 12, dModel: 8, numLayers: 1, nHead: 2, dFF: 16, maxLen: 6 });
    lm.train();
    const prompt = Int32Array.from([2, 3, 4]);
    // The uncached path builds (and keeps) the causal masks generateAsync uses too.
    const sync = lm.generate(prompt, 10, { rng: createRng(9), temperature: 0.8, cache: false });
    expect(Array.from(lm.generate(prompt, 10, { rng: createRng(9), temperature: 0.8 }))).toEqual(
      Array.from(sync),
    );
    const before = tf.memory().numTensors;
    const async = await lm.generateAsync(prompt, 10, { rng: createRng(9), temperature: 0.8 });
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(async)).toEqual(Array.from(sync));
    expect(async.length).toBe(10);
    expect(lm.training).toBe(true);
    lm.dispose();
  });
});
