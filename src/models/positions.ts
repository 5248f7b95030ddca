/**
 * Token and position embeddings shared by the sequence models: `tok_emb`, and `pos_emb` (learned)
 * or a fixed sinusoidal `pos_table` buffer (not saved), registered on the model itself so state
 * keys stay `tok_emb.weight` / `pos_emb.weight`.
 */
import { tf, type Tensor } from '../backend/tf.js';
import { Embedding } from '../nn/layers.js';
import type { Module } from '../nn/module.js';

/** How positions are encoded. */
export type PositionalKind = 'learned' | 'sinusoidal';
export const POSITIONAL_KINDS = ['learned', 'sinusoidal'] as const;

/**
 * The `[maxLen, d]` table with `sin(pos·f_j)` at even and `cos(pos·f_j)` at odd columns, where
 * `f_j = 10000^(−2j/d)`.
 */
export function sinusoidTable(maxLen: number, d: number): Tensor {
  const data = new Float32Array(maxLen * d);
  for (let pos = 0; pos < maxLen; pos++) {
    for (let j = 0; j < d / 2; j++) {
      const f = Math.exp(-(2 * j * Math.log(10000)) / d);
      data[pos * d + 2 * j] = Math.sin(pos * f);
      data[pos * d + 2 * j + 1] = Math.cos(pos * f);
    }
  }
  return tf.tensor2d(data, [maxLen, d]);
}

/** Registers `tok_emb` and the position embedding on `model`. */
export function registerEmbeddings(
  model: Module,
  cfg: { vocabSize: number; dModel: number; maxLen: number },
  positional: PositionalKind,
): void {
  model.registerModule('tok_emb', new Embedding({ numEmbeddings: cfg.vocabSize, embeddingDim: cfg.dModel }));
  if (positional === 'learned') {
    model.registerModule('pos_emb', new Embedding({ numEmbeddings: cfg.maxLen, embeddingDim: cfg.dModel }));
  } else {
    model.registerBuffer('pos_table', sinusoidTable(cfg.maxLen, cfg.dModel), { persistent: false });
  }
}

/** Token embeddings of `ids [B, T]` plus the first `T` positions: `[B, T, dModel]`. */
export function embed(model: Module, ids: Tensor): Tensor {
  return tf.tidy(() => {
    const tok = model.getChild('tok_emb')!.forward(ids) as Tensor;
    const table =
      (model.getChild('pos_emb') as Embedding | undefined)?.weight ?? model.getBuffer('pos_table')!;
    return tf.add(tok, tf.slice(table, [0, 0], [ids.shape[1]!, table.shape[1]!]));
  });
}
