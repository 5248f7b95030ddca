import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import { causalMask, MultiHeadAttention } from '../../src/nn/attention.js';
import { selfAttentionWithPast } from '../../src/nn/kv-attention.js';
import { createRng } from '../../src/rng.js';
import { thrown } from '../helpers.js';

const maxAbsDiff = (a: Tensor, b: Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('selfAttentionWithPast', () => {
  it('without a past equals the causal forward; step by step with cached keys and values gives the same outputs', () => {
    const mha = new MultiHeadAttention({ dModel: 8, nHead: 2, rng: createRng(5) });
    mha.eval();
    const x = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 1);
    const full = mha.forward(x, x, x, { causal: true });

    const first = tf.slice(x, [0, 0, 0], [2, 3, 8]);
    const mask3 = tf.reshape(causalMask(3, 3), [1, 1, 3, 3]);
    const start = selfAttentionWithPast(mha, first, null, mask3);
    expect(start.out.shape).toEqual([2, 3, 8]);
    expect(start.k.shape).toEqual([2, 3, 8]);
    expect(maxAbsDiff(start.out, tf.slice(full, [0, 0, 0], [2, 3, 8]))).toBeLessThan(1e-5);

    // Two more positions, one at a time, each seeing every earlier key (no mask needed for one query).
    let past = { k: start.k, v: start.v };
    for (const t of [3, 4]) {
      const step = selfAttentionWithPast(mha, tf.slice(x, [0, t, 0], [2, 1, 8]), past, null);
      expect(maxAbsDiff(step.out, tf.slice(full, [0, t, 0], [2, 1, 8]))).toBeLessThan(1e-5);
      past = { k: tf.concat([past.k, step.k], 1), v: tf.concat([past.v, step.v], 1) };
    }
    expect(past.k.shape).toEqual([2, 5, 8]);
    mha.dispose();
  });

  it('leaks nothing beyond its three outputs', () => {
    const mha = new MultiHeadAttention({ dModel: 8, nHead: 2, rng: createRng(6) });
    const x = tf.randomNormal([1, 2, 8], 0, 1, 'float32', 2);
    const past = { k: tf.zeros([1, 3, 8]), v: tf.zeros([1, 3, 8]) };
    const before = tf.memory().numTensors;
    const step = selfAttentionWithPast(mha, x, past, null);
    expect(tf.memory().numTensors).toBe(before + 3);
    tf.dispose([step.out, step.k, step.v, x, past.k, past.v]);
    mha.dispose();
  });

  it('rejects x of the wrong width and past keys of the wrong shape (INVALID_INPUT naming the shapes)', () => {
    const mha = new MultiHeadAttention({ dModel: 8, nHead: 2, rng: createRng(7) });
    const x = tf.zeros([1, 2, 6]);
    const e = thrown(() => selfAttentionWithPast(mha, x, null, null));
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.message).toContain('[B, T, 8]');
    const good = tf.zeros([1, 2, 8]);
    const bad = thrown(() =>
      selfAttentionWithPast(mha, good, { k: tf.zeros([2, 3, 8]), v: tf.zeros([2, 3, 8]) }, null),
    );
    expect(bad.code).toBe('INVALID_INPUT');
    expect(bad.message).toContain('[1, P, 8]');
    mha.dispose();
  });
});

describe('selfAttentionWithPast with a prefix', () => {
  it('step by step with a prefix equals the causal forward with the same prefix; the prefix is not returned for caching', () => {
    const mha = new MultiHeadAttention({ dModel: 8, nHead: 2, rng: createRng(8) });
    mha.eval();
    const x = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 3);
    const prefix = {
      k: tf.randomNormal([3, 8], 0, 1, 'float32', 4),
      v: tf.randomNormal([3, 8], 0, 1, 'float32', 5),
    };
    const full = mha.forward(x, x, x, { causal: true, prefix });
    const mask2 = tf.reshape(causalMask(2, 2), [1, 1, 2, 2]);
    const start = selfAttentionWithPast(mha, tf.slice(x, [0, 0, 0], [2, 2, 8]), null, mask2, prefix);
    expect(start.k.shape).toEqual([2, 2, 8]);
    expect(maxAbsDiff(start.out, tf.slice(full, [0, 0, 0], [2, 2, 8]))).toBeLessThan(1e-5);
    let past = { k: start.k, v: start.v };
    for (const t of [2, 3]) {
      const step = selfAttentionWithPast(mha, tf.slice(x, [0, t, 0], [2, 1, 8]), past, null, prefix);
      expect(maxAbsDiff(step.out, tf.slice(full, [0, t, 0], [2, 1, 8]))).toBeLessThan(1e-5);
      past = { k: tf.concat([past.k, step.k], 1), v: tf.concat([past.v, step.v], 1) };
    }
    mha.dispose();
  });
});
