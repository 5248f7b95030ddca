import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { Parallel, Stack } from '../../../src/adapters/composition/index.js';
import { EncoderClassifier } from '../../../src/models/encoder-classifier.js';
import { createRng, setRng } from '../../../src/rng.js';
import { expectClose } from '../../helpers.js';
import { randomize } from './fixture.js';

function classifier(): EncoderClassifier {
  setRng(createRng(11));
  const m = new EncoderClassifier({
    vocabSize: 12,
    dModel: 8,
    numLayers: 2,
    nHead: 2,
    dFF: 16,
    maxLen: 8,
    numClasses: 3,
  });
  m.addAdapter('a', { type: 'linear', inFeatures: 8, dim: 4 });
  m.addAdapter('b', { type: 'linear', inFeatures: 8, dim: 4 });
  return m;
}

/**
 * Two rows of ids, the second padded after 3 tokens; the same rows with other ids at the padded
 * positions; and the padding mask (true = padding).
 */
function paddedBatch(): { ids: Tensor; otherPadIds: Tensor; mask: Tensor } {
  const ids = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 0, 0], [2, 5], 'int32');
  const otherPadIds = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 9, 11], [2, 5], 'int32');
  const mask = tf.tensor2d([0, 0, 0, 0, 0, 0, 0, 0, 1, 1], [2, 5], 'bool');
  return { ids, otherPadIds, mask };
}

describe('Parallel', () => {
  it('B-303 Parallel(a, b) on [B, T] ids with a padding mask: 2B output rows, rows 0…B−1 as the model with only a, rows B…2B−1 with only b; padded positions stay padded in both halves', () => {
    const model = classifier();
    // Random weights in every block's adapters (they start as the identity).
    let seed = 1;
    for (const [path, m] of model.namedModules()) if (/adapter_layer\.[ab]$/.test(path)) randomize(m, seed++);
    model.eval();
    const { ids, otherPadIds, mask } = paddedBatch();

    const run = (setup: Parameters<typeof model.setActiveSetup>[0], x: Tensor): Tensor => {
      model.setActiveSetup(setup);
      return model.forward(x, mask);
    };
    const onlyA = run(Stack('a'), ids);
    const onlyB = run(Stack('b'), ids);
    const par = run(Parallel('a', 'b'), ids);
    expect(par.shape).toEqual([4, 3]);
    tf.tidy(() => {
      expectClose(tf.slice(par, 0, 2), onlyA, 1e-6);
      expectClose(tf.slice(par, 2, 2), onlyB, 1e-6);
      expect(tf.max(tf.abs(tf.sub(onlyA, onlyB))).dataSync()[0]).toBeGreaterThan(1e-3);
    });
    // The ids under the mask do not matter in either half: the mask was replicated with the rows.
    const parOther = run(Parallel('a', 'b'), otherPadIds);
    expectClose(parOther, par, 1e-6);
    // Each forward replicates once, however often it runs.
    const again = run(Parallel('a', 'b'), ids);
    expectClose(again, par, 0);
    // One input row, several tasks in one pass (the mask has one row too).
    const row = tf.slice(ids, 1, 1);
    const rowMask = tf.slice(mask, 1, 1);
    model.setActiveSetup(Parallel('a', 'b'));
    const one = model.forward(row, rowMask);
    expect(one.shape).toEqual([2, 3]);
    tf.tidy(() => {
      expectClose(tf.slice(one, 0, 1), tf.slice(onlyA, 1, 1), 1e-5);
      expectClose(tf.slice(one, 1, 1), tf.slice(onlyB, 1, 1), 1e-5);
    });
    tf.dispose([row, rowMask, one]);
    tf.dispose([ids, otherPadIds, mask, onlyA, onlyB, par, parOther, again]);
    model.dispose();
  });
});

describe('setups at attention hosts', () => {
  it("each adapter runs at its own insertion point: Stack('att', 'a') equals the default chain; Parallel keeps an attention adapter's padding mask per half", () => {
    setRng(createRng(5));
    const model = new EncoderClassifier({
      vocabSize: 12,
      dModel: 8,
      numLayers: 2,
      nHead: 2,
      dFF: 16,
      maxLen: 8,
      numClasses: 3,
    });
    model.addAdapter('att', { type: 'transformerMultiHeadAttention', hiddenSize: 8, numAttentionHeads: 2 });
    model.addAdapter('a', { type: 'linear', inFeatures: 8, dim: 4 });
    let seed = 20;
    for (const [path, m] of model.namedModules())
      if (/adapter_layer\.(att|a)$/.test(path)) randomize(m, seed++);
    model.eval();
    const { ids, otherPadIds, mask } = paddedBatch();
    const def = model.forward(ids, mask);
    model.setActiveSetup(Stack('att', 'a'));
    const stacked = model.forward(ids, mask);
    expectClose(stacked, def, 0);
    model.setActiveSetup(Stack('att'));
    const onlyAtt = model.forward(ids, mask);
    model.setActiveSetup(Stack('a'));
    const onlyA = model.forward(ids, mask);
    model.setActiveSetup(Parallel('att', 'a'));
    const par = model.forward(ids, mask);
    const parOther = model.forward(otherPadIds, mask);
    expect(par.shape).toEqual([4, 3]);
    tf.tidy(() => {
      expectClose(tf.slice(par, 0, 2), onlyAtt, 1e-5);
      expectClose(tf.slice(par, 2, 2), onlyA, 1e-5);
    });
    expectClose(parOther, par, 1e-5);
    tf.dispose([ids, otherPadIds, mask, def, stacked, onlyAtt, onlyA, par, parOther]);
    model.dispose();
  });
});
