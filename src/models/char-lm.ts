import { tf, type Tensor } from '../backend/tf.js';
import type { AdapterModelConfig } from '../adapters/model.js';
import { check } from '../errors.js';
import { Module, fmtShape } from '../nn/module.js';
import { TransformerDecoder } from '../nn/transformer.js';
import { getRng, type Rng } from '../rng.js';
import { buildSequenceModel, withBuiltinAdapters, type SequenceModelConfig } from './common.js';
import {
  forwardBlocksCached,
  isCachedInput,
  positionIds,
  SequenceCache,
  type CachedInput,
} from './kv-cache.js';
import { embed } from './positions.js';
import { nextTokenProbs, sampleIndex } from './sampling.js';

/** Config of {@link CharLM}. Stored with checkpoints; `adapters` holds the adapters config. */
export interface CharLMConfig extends AdapterModelConfig, SequenceModelConfig {
  model?: 'char-lm';
}

/** Adapter types whose output at a position depends on other positions: not usable with a key/value cache. */
const SEQUENCE_MIXING_ADAPTERS = [
  'multiHeadAttention',
  'relPositionMultiHeadAttention',
  'transformerMultiHeadAttention',
  'positionalEncoding',
  'relPositionalEncoding',
];

/** The model name stored in {@link CharLMConfig.model}. */
export const CHAR_LM = 'char-lm';

class CharLMBase extends Module {
  static override readonly typeName: string = 'CharLMBase';
  readonly cfg: CharLMConfig;

  constructor(cfg: CharLMConfig) {
    super();
    this.cfg = buildSequenceModel(this, cfg, CHAR_LM, {
      stack: ['decoder', TransformerDecoder],
      head: ['lm_head', cfg.vocabSize],
    });
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
export class CharLM extends withBuiltinAdapters(CharLMBase, {
  module: 'decoder',
  outputLayer: 'lm_head',
  loraTargets: ['q_proj', 'v_proj'],
}) {
  static override readonly typeName: string = 'CharLM';

  constructor(cfg: CharLMConfig) {
    super(cfg);
  }

  /**
   * `ids` int32 `[B, T]` (T ≤ maxLen) → logits `[B, T, vocabSize]`.
   *
   * With a {@link CachedInput} `{ids, caches}` (eval mode), `ids [B, T]` are new tokens that follow
   * each row's cached positions: only they are computed, their keys and values are appended to
   * `caches[b]`, and the logits of the new positions are returned. Each row's cache length plus T
   * must stay within `maxLen`.
   */
  override forward(input: Tensor | CachedInput): Tensor {
    if (isCachedInput(input)) return this.forwardCached(input);
    const ids = input;
    check(
      ids.rank === 2 && ids.dtype === 'int32' && ids.shape[1]! <= this.cfg.maxLen,
      'INVALID_INPUT',
      () =>
        `CharLM.forward: expected int32 ids [batch, time ≤ ${this.cfg.maxLen}], got ${ids.dtype} ${fmtShape(ids.shape)}`,
    );
    return tf.tidy(() => {
      const h = this.getChild('decoder')!.forward(embed(this, ids)) as Tensor;
      return this.getChild('lm_head')!.forward(h) as Tensor;
    });
  }

  /** A fresh key/value cache for one sequence of this model (dispose it when done). */
  newCache(): SequenceCache {
    return new SequenceCache(this.cfg.numLayers);
  }

  private forwardCached({ ids, caches }: CachedInput): Tensor {
    check(
      ids instanceof tf.Tensor &&
        ids.rank === 2 &&
        ids.dtype === 'int32' &&
        ids.shape[0] === caches.length &&
        ids.shape[1]! >= 1,
      'INVALID_INPUT',
      () =>
        `CharLM.forward (cached): expected int32 ids [${caches.length}, T ≥ 1] (one row per cache), got ${ids instanceof tf.Tensor ? `${ids.dtype} ${fmtShape(ids.shape)}` : typeof ids}`,
    );
    check(
      !this.training,
      'UNSUPPORTED_FEATURE',
      () => 'CharLM.forward (cached): key/value caching is for inference; call eval() first',
    );
    const mixing = this.getEnabledAdapters().filter((n) =>
      SEQUENCE_MIXING_ADAPTERS.includes(
        String((this.cfg.adapters?.[n] as { type?: unknown } | undefined)?.type),
      ),
    );
    check(
      mixing.length === 0,
      'UNSUPPORTED_FEATURE',
      () =>
        `CharLM.forward (cached): adapter(s) ${mixing.join(', ')} mix positions (attention or positional adapters) and cannot run one position at a time; disable them or generate with { cache: false }`,
      () => ({ adapters: mixing }),
    );
    const t = ids.shape[1]!;
    const longest = Math.max(...caches.map((c) => c.length));
    check(
      longest + t <= this.cfg.maxLen,
      'INVALID_INPUT',
      () =>
        `CharLM.forward (cached): ${longest} cached + ${t} new positions exceed the context size maxLen ${this.cfg.maxLen}`,
      () => ({ cached: longest, added: t, maxLen: this.cfg.maxLen }),
    );
    return tf.tidy(() => {
      const tok = this.getChild('tok_emb')!.forward(ids) as Tensor;
      const table =
        (this.getChild('pos_emb') as (Module & { weight?: Tensor }) | undefined)?.weight ??
        this.getBuffer('pos_table')!;
      const h = tf.add(tok, tf.gather(table, positionIds(caches, t)));
      const decoder = this.getChild('decoder') as TransformerDecoder;
      const y = forwardBlocksCached(decoder.blocks(), h, caches);
      return this.getChild('lm_head')!.forward(decoder.getChild('norm')!.forward(y)) as Tensor;
    });
  }

  /**
   * Samples `length` characters after `prompt` (ids), one at a time, from the softmax at
   * `temperature`, using the last `maxLen` characters as context.
   *
   * With `cache` (default: true unless an enabled attention or positional adapter mixes positions,
   * which a cache cannot run one position at a time) the prompt is encoded once and each new character costs one
   * position's forward (a key/value cache), giving the same characters as the uncached path from the
   * same RNG. Once prompt plus output exceed `maxLen`, the context slides: every position shifts, so
   * cached keys no longer apply, and each further character is computed from the last `maxLen`
   * characters as without the cache.
   */
  generate(
    prompt: Int32Array,
    length: number,
    opts: { temperature?: number; rng?: Rng; cache?: boolean } = {},
  ): Int32Array {
    check(
      prompt.length >= 1,
      'INVALID_INPUT',
      () => 'CharLM.generate: the prompt must hold at least one character',
    );
    const temperature = opts.temperature ?? 1;
    check(
      prompt.length > 0,
      'INVALID_INPUT',
      () => 'CharLM.generate: the prompt is empty; give at least one id to continue from',
    );
    check(
      Number.isInteger(length) && length >= 0,
      'INVALID_INPUT',
      () => `CharLM.generate: length must be an integer ≥ 0, got ${length}`,
    );
    check(
      temperature > 0,
      'INVALID_INPUT',
      () => `CharLM.generate: temperature must be > 0, got ${temperature}`,
    );
    const rng = opts.rng ?? getRng();
    const out = Array.from(prompt);
    const mixing = this.getEnabledAdapters().some((n) =>
      SEQUENCE_MIXING_ADAPTERS.includes(
        String((this.cfg.adapters?.[n] as { type?: unknown } | undefined)?.type),
      ),
    );
    check(
      !(opts.cache === true && mixing),
      'UNSUPPORTED_FEATURE',
      () =>
        'CharLM.generate: cache: true, but an enabled attention or positional adapter mixes positions; use cache: false',
    );
    // By default the cache is used unless such an adapter is enabled (then every step sees the whole window).
    const cache = opts.cache === false || mixing ? null : this.newCache();
    try {
      return this.inEvalMode(() => {
        for (let i = 0; i < length; i++) {
          if (cache && out.length <= this.cfg.maxLen) {
            const fresh = out.slice(cache.length);
            const probs = tf.tidy(() => {
              const logits = this.forward({
                ids: tf.tensor2d(fresh, [1, fresh.length], 'int32'),
                caches: [cache],
              });
              const last = tf.slice(logits, [0, fresh.length - 1, 0], [1, 1, this.cfg.vocabSize]);
              return nextTokenProbs(tf.reshape(last, [1, -1]), [temperature])[0]!;
            });
            out.push(sampleIndex(probs, rng.next()));
            continue;
          }
          const ctx = out.slice(-this.cfg.maxLen);
          const probs = tf.tidy(() => {
            const logits = this.forward(tf.tensor2d(ctx, [1, ctx.length], 'int32'));
            const last = tf.slice(logits, [0, ctx.length - 1, 0], [1, 1, this.cfg.vocabSize]);
            return tf.softmax(tf.div(tf.reshape(last, [-1]), temperature)).dataSync() as Float32Array;
          });
          out.push(sampleIndex(probs, rng.next()));
        }
        return Int32Array.from(out.slice(prompt.length));
      });
    } finally {
      cache?.dispose();
    }
  }

  /**
   * {@link CharLM.generate} with each step's probabilities read asynchronously, so webgl and webgpu
   * are never stalled by a synchronous read. Same draws as `generate` for the same RNG. `onToken` is
   * called with each new id and awaited: a page can show the text as it comes and let the browser paint.
   */
  async generateAsync(
    prompt: Int32Array,
    length: number,
    opts: {
      temperature?: number;
      rng?: Rng;
      onToken?: (id: number, index: number) => void | Promise<void>;
    } = {},
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
