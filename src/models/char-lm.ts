import { tf, type Tensor } from '../backend/tf.js';
import { withAdapterModel, type AdapterModelConfig } from '../adapters/model.js';
import { check } from '../errors.js';
import { Linear } from '../nn/layers.js';
import { Module, fmtShape } from '../nn/module.js';
import { TransformerDecoder } from '../nn/transformer.js';
import { getRng, type Rng } from '../rng.js';
import type { CharVocabJSON } from '../data/vocab.js';
import { checkSequenceConfig } from './common.js';
import { embed, registerEmbeddings } from './positions.js';

/** Config of {@link CharLM}. Stored with checkpoints; `adapters` holds the adapters config. */
export interface CharLMConfig extends AdapterModelConfig {
  model?: 'char-lm';
  vocabSize: number;
  dModel: number;
  numLayers: number;
  nHead: number;
  dFF: number;
  /** Longest context (positions). */
  maxLen: number;
  /** Default 0. */
  dropout?: number;
  /** `'learned'` (default) or `'sinusoidal'` position embeddings. */
  positional?: 'learned' | 'sinusoidal';
  /** The character vocabulary the ids come from (`CharVocab.toJSON()`), kept with checkpoints. */
  vocab?: CharVocabJSON;
}

/** The model name stored in {@link CharLMConfig.model}. */
export const CHAR_LM = 'char-lm';

class CharLMBase extends Module {
  static override readonly typeName: string = 'CharLMBase';
  readonly cfg: CharLMConfig;

  constructor(cfg: CharLMConfig) {
    super();
    const positional = checkSequenceConfig(cfg, CHAR_LM);
    this.cfg = { ...structuredClone(cfg), model: CHAR_LM, positional };
    const { vocabSize, dModel, numLayers, nHead, dFF } = cfg;
    registerEmbeddings(this, cfg, positional);
    this.registerModule(
      'decoder',
      new TransformerDecoder({ numLayers, dModel, nHead, dFF, dropout: cfg.dropout ?? 0, activation: 'gelu' }),
    );
    this.registerModule('lm_head', new Linear({ inFeatures: dModel, outFeatures: vocabSize }));
  }
}

/**
 * A character-level decoder-only transformer (pre-LN, GELU): token and position embeddings, a
 * {@link TransformerDecoder} (causal), and a linear head over the vocabulary.
 *
 * Adapter modules: `''` and `'decoder'` (both route to every decoder block). LoRA targets default
 * to the attention's `q_proj` and `v_proj`; `lm_head` is the output layer (never an `'all-linear'`
 * target).
 *
 * @example
 * ```ts
 * const lm = new CharLM({ vocabSize: 91, dModel: 128, numLayers: 4, nHead: 4, dFF: 512, maxLen: 128 });
 * lm.addAdapter('sotu', { type: 'linear', inFeatures: 128, dim: 32 });
 * const logits = lm.forward(ids);          // ids: int32 [B, T] → [B, T, vocabSize]
 * ```
 */
export class CharLM extends withAdapterModel(CharLMBase) {
  static override readonly typeName: string = 'CharLM';
  /** Module paths LoRA targets by default. */
  readonly defaultLoraTargets = ['q_proj', 'v_proj'];
  /** The output layer, excluded from `'all-linear'`. */
  readonly outputLayerPath = 'lm_head';

  constructor(cfg: CharLMConfig) {
    super(cfg);
    this.adapterModuleNames = ['', 'decoder'];
    this.defaultAdapterModuleName = 'decoder';
    this.replaceAdapterCompatibleModules();
    this.setupAdapters();
  }

  /** `ids` int32 `[B, T]` (T ≤ maxLen) → logits `[B, T, vocabSize]`. */
  override forward(ids: Tensor): Tensor {
    check(
      ids.rank === 2 && ids.dtype === 'int32' && ids.shape[1]! <= this.cfg.maxLen,
      'INVALID_INPUT',
      () => `CharLM.forward: expected int32 ids [batch, time ≤ ${this.cfg.maxLen}], got ${ids.dtype} ${fmtShape(ids.shape)}`,
    );
    return tf.tidy(() => {
      const h = this.getChild('decoder')!.forward(embed(this, ids)) as Tensor;
      return this.getChild('lm_head')!.forward(h) as Tensor;
    });
  }

  /**
   * Samples `length` characters after `prompt` (ids), one at a time, from the softmax at
   * `temperature`, using the last `maxLen` characters as context.
   */
  generate(prompt: Int32Array, length: number, opts: { temperature?: number; rng?: Rng } = {}): Int32Array {
    const temperature = opts.temperature ?? 1;
    check(prompt.length > 0, 'INVALID_INPUT', () => 'CharLM.generate: the prompt is empty; give at least one id to continue from');
    check(Number.isInteger(length) && length >= 0, 'INVALID_INPUT', () => `CharLM.generate: length must be an integer ≥ 0, got ${length}`);
    check(temperature > 0, 'INVALID_INPUT', () => `CharLM.generate: temperature must be > 0, got ${temperature}`);
    const rng = opts.rng ?? getRng();
    const out = Array.from(prompt);
    return this.inEvalMode(() => {
      for (let i = 0; i < length; i++) {
        const probsT = this.nextCharProbs(out, temperature);
        const probs = probsT.dataSync() as Float32Array;
        probsT.dispose();
        out.push(sampleIndex(probs, rng.next()));
      }
      return Int32Array.from(out.slice(prompt.length));
    });
  }

  /**
   * {@link CharLM.generate} with each step's probabilities read asynchronously, so webgl and webgpu
   * are never stalled by a synchronous read. Same draws as `generate` for the same RNG. `onToken` is
   * called with each new id and awaited: a page can show the text as it comes and let the browser paint.
   */
  async generateAsync(
    prompt: Int32Array,
    length: number,
    opts: { temperature?: number; rng?: Rng; onToken?: (id: number, index: number) => void | Promise<void> } = {},
  ): Promise<Int32Array> {
    const temperature = opts.temperature ?? 1;
    const rng = opts.rng ?? getRng();
    const out = Array.from(prompt);
    return this.inEvalMode(async () => {
      for (let i = 0; i < length; i++) {
        const probsT = this.nextCharProbs(out, temperature);
        let probs: Float32Array;
        try {
          probs = (await probsT.data()) as Float32Array;
        } finally {
          probsT.dispose();
        }
        const id = sampleIndex(probs, rng.next());
        out.push(id);
        await opts.onToken?.(id, i);
      }
      return Int32Array.from(out.slice(prompt.length));
    });
  }

  /** Softmax at `temperature` over the character after `ids` (the last `maxLen` of them as context). */
  private nextCharProbs(ids: readonly number[], temperature: number): Tensor {
    const ctx = ids.slice(-this.cfg.maxLen);
    return tf.tidy(() => {
      const logits = this.forward(tf.tensor2d(ctx, [1, ctx.length], 'int32'));
      const last = tf.slice(logits, [0, ctx.length - 1, 0], [1, 1, this.cfg.vocabSize]);
      return tf.softmax(tf.div(tf.reshape(last, [-1]), temperature));
    });
  }
}

/** The index whose cumulative probability first exceeds `u`. */
function sampleIndex(probs: Float32Array, u: number): number {
  let acc = 0;
  for (let i = 0; i < probs.length; i++) {
    acc += probs[i]!;
    if (u < acc) return i;
  }
  return probs.length - 1;
}
