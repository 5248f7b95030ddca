/**
 * A character-level transformer encoder with masked mean pooling and a linear classification head,
 * the reference sequence classifier for adapters and LoRA.
 */
import { tf, type Tensor } from '../backend/tf.js';
import '../adapters/builtins.js';
import type { AdapterModelConfig } from '../adapters/model.js';
import { CharVocab } from '../data/vocab.js';
import { check } from '../errors.js';
import { Embedding } from '../nn/layers.js';
import { Module, fmtShape } from '../nn/module.js';
import { matchBatchRows } from '../nn/replicated-rows.js';
import { TransformerEncoder } from '../nn/transformer.js';
import type { CharLM } from './char-lm.js';
import {
  buildSequenceModel,
  requireLabels,
  withBuiltinAdapters,
  type SequenceModelConfig,
} from './common.js';
import { embed } from './positions.js';

/** Config of {@link EncoderClassifier}. Stored with checkpoints; `adapters` holds the adapters config. */
export interface EncoderClassifierConfig extends AdapterModelConfig, SequenceModelConfig {
  model?: 'encoder-classifier';
  /** Number of classes (width of the logits). */
  numClasses: number;
  /** Class names, one per logit column (optional); output extensions may not reuse them. */
  labels?: string[];
}

/** The model name stored in {@link EncoderClassifierConfig.model}. */
export const ENCODER_CLASSIFIER = 'encoder-classifier';

/** Options of {@link EncoderClassifier.loadEmbeddingsFrom}. */
export interface LoadEmbeddingsOptions {
  /**
   * Also copy the first `maxLen` rows of the LM's learned position table (both models must use
   * `'learned'` positions and the LM's `maxLen` must be at least this model's). Default false.
   */
  positions?: boolean;
}

class EncoderClassifierBase extends Module {
  static override readonly typeName: string = 'EncoderClassifierBase';
  readonly cfg: EncoderClassifierConfig;

  constructor(cfg: EncoderClassifierConfig) {
    super();
    this.cfg = buildSequenceModel(this, cfg, ENCODER_CLASSIFIER, {
      stack: ['encoder', TransformerEncoder],
      head: ['classifier', cfg.numClasses],
      extraFields: ['numClasses'],
    });
    requireLabels(cfg as unknown as Record<string, unknown>, cfg.numClasses, ENCODER_CLASSIFIER);
  }
}

/**
 * A character-level transformer encoder classifier (pre-LN, GELU): token and position embeddings
 * (`tok_emb`, `pos_emb`), a bidirectional {@link TransformerEncoder} (`encoder`), the mean of the
 * encoder output over non-padding positions, and a linear head (`classifier`).
 *
 * Padding: pass `keyPaddingMask` (`[B, T]`, 1/true = padding, as `padBatch` builds it). Attention
 * ignores padded keys and pooling ignores padded positions, so the ids written at padded positions
 * do not change the logits. The mask is read as constant data (never differentiated). A row that is
 * all padding pools to zeros (its logits are the head's bias).
 *
 * Adapter modules: `''` and `'encoder'` (both route to every encoder block). LoRA targets default to
 * the attention's `q_proj` and `v_proj`; `classifier` is the output layer (never an `'all-linear'`
 * target).
 *
 * @example
 * ```ts
 * const clf = new EncoderClassifier({ vocabSize: 91, dModel: 64, numLayers: 2, nHead: 4, dFF: 128, maxLen: 256, numClasses: 2 });
 * clf.addAdapter('spam', { type: 'linear', inFeatures: 64, dim: 16 });
 * const { ids, mask, shape } = padBatch(texts.map((t) => vocab.encode(t)), 256);
 * const logits = clf.forward(tf.tensor2d(ids, shape, 'int32'), tf.tensor2d(mask, shape, 'bool')); // [B, 2]
 * ```
 */
export class EncoderClassifier extends withBuiltinAdapters(EncoderClassifierBase, {
  module: 'encoder',
  outputLayer: 'classifier',
  loraTargets: ['q_proj', 'v_proj'],
}) {
  static override readonly typeName: string = 'EncoderClassifier';

  constructor(cfg: EncoderClassifierConfig) {
    super(cfg);
  }

  /**
   * `ids` int32 `[B, T]` (T ≤ maxLen), optional `keyPaddingMask` `[B, T]` (bool or numeric, non-zero
   * = padding) → logits `[B, numClasses]`.
   */
  override forward(ids: Tensor, keyPaddingMask?: Tensor): Tensor {
    check(
      ids.rank === 2 && ids.dtype === 'int32' && ids.shape[1]! >= 1 && ids.shape[1]! <= this.cfg.maxLen,
      'INVALID_INPUT',
      () =>
        `EncoderClassifier.forward: expected int32 ids [batch, 1 ≤ time ≤ ${this.cfg.maxLen}], got ${ids.dtype} ${fmtShape(ids.shape)}`,
    );
    const [b, t] = ids.shape as [number, number];
    if (keyPaddingMask !== undefined) {
      check(
        keyPaddingMask.rank === 2 && keyPaddingMask.shape[0] === b && keyPaddingMask.shape[1] === t,
        'INVALID_INPUT',
        () =>
          `EncoderClassifier.forward: keyPaddingMask must have the ids' shape [${b}, ${t}], got ${fmtShape(keyPaddingMask.shape)}`,
      );
    }
    const { pad, keep } = poolingWeights(keyPaddingMask, b, t);
    try {
      return tf.tidy(() => {
        const h = this.getChild('encoder')!.forward(
          embed(this, ids),
          pad ? { keyPaddingMask: pad } : {},
        ) as Tensor;
        // Masked mean: Σ_t h·w / Σ_t w with w = 1 at kept positions (counts clamped to 1).
        // (rows follow a batch that a Parallel adapter setup replicated)
        const weights = matchBatchRows(h, keep.weights);
        const pooled = tf.div(
          tf.sum(tf.mul(h, tf.expandDims(weights, 2)), 1),
          matchBatchRows(h, keep.counts),
        );
        return this.getChild('classifier')!.forward(pooled) as Tensor;
      });
    } finally {
      pad?.dispose();
      keep.weights.dispose();
      keep.counts.dispose();
    }
  }

  /**
   * Copies a compatible {@link CharLM}'s character embeddings (`tok_emb.weight`) into this model,
   * so the classifier starts from what the LM learned about characters. Both models must record
   * their vocabulary (`cfg.vocab`) and the two must assign the same ids; `dModel` must match.
   *
   * @param lm - The source language model (not changed).
   * @param opts - {@link LoadEmbeddingsOptions}.
   * @throws AdapterError `INVALID_CONFIG` when a vocabulary is not recorded, or `dModel` (or, with
   *   `positions`, the positional setting or `maxLen`) does not fit; `CHECKPOINT_MISMATCH` (from
   *   `CharVocab.assertCompatible`) when the vocabularies differ.
   */
  loadEmbeddingsFrom(lm: CharLM, opts: LoadEmbeddingsOptions = {}): void {
    const where = 'EncoderClassifier.loadEmbeddingsFrom';
    check(
      lm.cfg.vocab !== undefined && this.cfg.vocab !== undefined,
      'INVALID_CONFIG',
      () =>
        `${where}: both models must record their vocabulary (cfg.vocab) so the ids can be checked; missing on ${[
          lm.cfg.vocab === undefined ? 'the CharLM' : '',
          this.cfg.vocab === undefined ? 'the classifier' : '',
        ]
          .filter(Boolean)
          .join(' and ')}`,
    );
    CharVocab.fromJSON(this.cfg.vocab).assertCompatible(
      lm.cfg.vocab,
      'classifier vocabulary vs CharLM vocabulary',
    );
    check(
      lm.cfg.dModel === this.cfg.dModel,
      'INVALID_CONFIG',
      () =>
        `${where}: dModel differs (CharLM ${lm.cfg.dModel}, classifier ${this.cfg.dModel}); build the classifier with dModel ${lm.cfg.dModel}`,
      () => ({ field: 'dModel', value: this.cfg.dModel, expected: lm.cfg.dModel }),
    );
    const src = (lm.getChild('tok_emb') as Embedding).weight;
    const dst = (this.getChild('tok_emb') as Embedding).weight;
    if (opts.positions) {
      check(
        lm.cfg.positional !== 'sinusoidal' && this.cfg.positional === 'learned',
        'INVALID_CONFIG',
        () =>
          `${where}: positions can be copied only between learned position tables (CharLM '${lm.cfg.positional ?? 'learned'}', classifier '${this.cfg.positional}')`,
      );
      check(
        lm.cfg.maxLen >= this.cfg.maxLen,
        'INVALID_CONFIG',
        () =>
          `${where}: the CharLM has ${lm.cfg.maxLen} positions, fewer than the classifier's maxLen ${this.cfg.maxLen}`,
      );
    }
    tf.tidy(() => dst.assign(tf.clone(src)));
    if (opts.positions) {
      const ps = (lm.getChild('pos_emb') as Embedding).weight;
      const pd = (this.getChild('pos_emb') as Embedding).weight;
      tf.tidy(() => pd.assign(tf.slice(ps, [0, 0], [this.cfg.maxLen, this.cfg.dModel])));
    }
  }
}

/**
 * Constant tensors built from the padding mask's values: the encoder's `[B, T]` float mask
 * (1 = padding; undefined without a mask), per-position weights `[B, T]` (1 = kept) and per-row
 * counts `[B, 1]` (at least 1). The caller disposes them.
 */
function poolingWeights(
  mask: Tensor | undefined,
  b: number,
  t: number,
): { pad: Tensor | undefined; keep: { weights: Tensor; counts: Tensor } } {
  const w = new Float32Array(b * t).fill(1);
  const counts = new Float32Array(b).fill(t);
  if (mask === undefined) {
    return { pad: undefined, keep: { weights: tf.tensor2d(w, [b, t]), counts: tf.tensor2d(counts, [b, 1]) } };
  }
  const m = mask.dataSync();
  const padData = new Float32Array(b * t);
  for (let r = 0; r < b; r++) {
    let n = 0;
    for (let i = r * t; i < (r + 1) * t; i++) {
      if (Number(m[i]) !== 0) {
        w[i] = 0;
        padData[i] = 1;
      } else n++;
    }
    counts[r] = Math.max(n, 1);
  }
  return {
    pad: tf.tensor2d(padData, [b, t]),
    keep: { weights: tf.tensor2d(w, [b, t]), counts: tf.tensor2d(counts, [b, 1]) },
  };
}
