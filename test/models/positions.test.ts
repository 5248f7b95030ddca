import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import { embed, registerEmbeddings, sinusoidTable } from '../../src/models/positions.js';
import type { Embedding } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import { manualSeed } from '../../src/rng.js';

describe('position embeddings', () => {
  it('sinusoidTable has sin(pos·f_j) at even and cos(pos·f_j) at odd columns, f_j = 10000^(−2j/d)', () => {
    const maxLen = 7;
    const d = 6;
    const t = sinusoidTable(maxLen, d);
    expect(t.shape).toEqual([maxLen, d]);
    const v = t.dataSync();
    for (let pos = 0; pos < maxLen; pos++) {
      for (let j = 0; j < d / 2; j++) {
        const f = Math.pow(10000, (-2 * j) / d);
        expect(v[pos * d + 2 * j]).toBeCloseTo(Math.sin(pos * f), 6);
        expect(v[pos * d + 2 * j + 1]).toBeCloseTo(Math.cos(pos * f), 6);
      }
    }
    t.dispose();
  });

  it('learned positions are a saved pos_emb; sinusoidal ones a pos_table buffer that is not saved', () => {
    manualSeed(1);
    const cfg = { vocabSize: 5, dModel: 4, maxLen: 3 };
    const learned = new Module();
    registerEmbeddings(learned, cfg, 'learned');
    expect([...learned.stateDict().keys()].sort()).toEqual(['pos_emb.weight', 'tok_emb.weight']);
    expect(learned.getBuffer('pos_table')).toBeUndefined();

    const fixed = new Module();
    registerEmbeddings(fixed, cfg, 'sinusoidal');
    expect([...fixed.stateDict().keys()]).toEqual(['tok_emb.weight']);
    expect(fixed.getChild('pos_emb')).toBeUndefined();
    expect(fixed.getBuffer('pos_table')!.shape).toEqual([3, 4]);
    learned.dispose();
    fixed.dispose();
  });

  it('embed adds the first T position rows to the token embeddings and leaks no tensor', () => {
    manualSeed(2);
    for (const kind of ['learned', 'sinusoidal'] as const) {
      const m = new Module();
      registerEmbeddings(m, { vocabSize: 5, dModel: 4, maxLen: 6 }, kind);
      const ids = tf.tensor2d(
        [
          [1, 2, 3],
          [4, 0, 1],
        ],
        [2, 3],
        'int32',
      );
      const before = tf.memory().numTensors;
      const out = embed(m, ids);
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(out.shape).toEqual([2, 3, 4]);
      const tok = (m.getChild('tok_emb') as Embedding).weight.arraySync() as number[][];
      const pos = (
        (m.getChild('pos_emb') as Embedding | undefined)?.weight ?? (m.getBuffer('pos_table') as Tensor)
      ).arraySync() as number[][];
      const got = out.arraySync() as number[][][];
      const idRows = ids.arraySync() as number[][];
      for (let b = 0; b < 2; b++)
        for (let t = 0; t < 3; t++)
          for (let k = 0; k < 4; k++)
            expect(got[b]![t]![k]).toBeCloseTo(tok[idRows[b]![t]!]![k]! + pos[t]![k]!, 5);
      tf.dispose([out, ids]);
      m.dispose();
    }
  });
});
