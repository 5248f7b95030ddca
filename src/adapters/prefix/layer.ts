import { tf, type Tensor } from '../../backend/tf.js';
import { AdapterError, check } from '../../errors.js';
import type { AttentionPrefix } from '../../nn/attention.js';
import { Embedding, Linear, Sequential } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { createRng, getRng } from '../../rng.js';
import { AdapterModule, type AdapterModuleOptions } from '../adapter-module.js';
import { parseConfig } from '../config-schema.js';
import type { NormalizedAdapterConfig } from '../types.js';
import { prefixTuningSchema } from './config.js';
import type { StackAdapterParts, StackSizes } from './hosts.js';

/** `tanh`, as a parameterless layer so the MLP's state keys read as PEFT's (`transform.0`, `transform.2`). */
class Tanh extends Module {
  static override readonly typeName: string = 'Tanh';
  override forward(x: Tensor): Tensor {
    return tf.tanh(x);
  }
}

/** Constructor options of {@link PrefixTuningAdapter}: the `prefixTuning` config's fields with the model's sizes. */
export interface PrefixTuningAdapterOptions extends AdapterModuleOptions {
  numVirtualTokens: number;
  prefixProjection?: boolean;
  encoderHiddenSize?: number | null;
  /** Model width D (required: a transformer stack fills it in). */
  tokenDim?: number | null;
  /** Attention layers L (required: a transformer stack fills it in). */
  numLayers?: number | null;
  /** Heads per layer; must divide `tokenDim` (required: a transformer stack fills it in). */
  numAttentionHeads?: number | null;
}

/**
 * Prefix tuning (Li and Liang 2021) as Hugging Face PEFT's `PrefixEncoder`: `P` learned key and
 * value vectors per head for each of `L` attention layers, prepended to the layer's own keys and
 * values and never masked.
 *
 * State keys, as PEFT's `prompt_encoder.<name>.*`:
 * - without projection: `embedding.weight [P, L·2·D]`, init N(0, 1) (PyTorch's `nn.Embedding`);
 *   `L·2·P·D` parameters.
 * - with `prefixProjection`: `embedding.weight [P, D]`, `transform.0` (Linear D → H),
 *   `transform.2` (Linear H → L·2·D), with `tanh` between (H = `encoderHiddenSize`, default D);
 *   `P·D + D·H + H + H·L·2·D + L·2·D` parameters. {@link mergeProjection} replaces them by the
 *   prefixes they compute.
 *
 * Layout of the `[P, L·2·D]` prefixes (PEFT's `past_key_values` before its head reshape): layer `l`'s
 * keys are columns `[2l·D, (2l+1)·D)`, its values `[(2l+1)·D, (2l+2)·D)`, each split into heads as
 * the projections' outputs are. Added to a transformer stack (`model.addAdapter('decoder:p',
 * {type: 'prefixTuning', numVirtualTokens: 8})`), the stack holds it and gives each block its layer.
 *
 * @example
 * ```ts
 * lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 8 });
 * lm.addAdapter('decoder:q', { type: 'prefixTuning', numVirtualTokens: 8, prefixProjection: true, encoderHiddenSize: 64 });
 * ```
 */
export class PrefixTuningAdapter extends AdapterModule {
  static override readonly typeName: string = 'PrefixTuningAdapter';
  readonly numVirtualTokens: number;
  readonly tokenDim: number;
  readonly numLayers: number;
  readonly numAttentionHeads: number;
  /** True while the prefixes are computed by the MLP (false after {@link mergeProjection}). */
  prefixProjection: boolean;
  encoderHiddenSize: number | null;

  constructor(options: PrefixTuningAdapterOptions) {
    super(options);
    const { adapterStrategy: _s, rng: _r, ...fields } = options;
    const cfg = parseConfig(prefixTuningSchema, { type: 'prefixTuning', ...fields }, 'PrefixTuningAdapter');
    const missing = (['tokenDim', 'numLayers', 'numAttentionHeads'] as const).filter((k) => cfg[k] === null);
    check(
      missing.length === 0,
      'INVALID_CONFIG',
      () =>
        `PrefixTuningAdapter: ${missing.join(', ')} not set; add prefix tuning to a transformer stack (e.g. model.addAdapter('decoder:p', {type: 'prefixTuning', numVirtualTokens: 8})), which fills them in`,
      () => ({ fields: missing }),
    );
    this.numVirtualTokens = cfg.numVirtualTokens;
    this.tokenDim = cfg.tokenDim!;
    this.numLayers = cfg.numLayers!;
    this.numAttentionHeads = cfg.numAttentionHeads!;
    check(
      this.tokenDim % this.numAttentionHeads === 0,
      'INVALID_CONFIG',
      () =>
        `PrefixTuningAdapter: tokenDim ${this.tokenDim} is not divisible by numAttentionHeads ${this.numAttentionHeads}`,
    );
    if (!cfg.prefixProjection && cfg.encoderHiddenSize !== null) {
      throw new AdapterError(
        'INVALID_CONFIG',
        `PrefixTuningAdapter: encoderHiddenSize ${cfg.encoderHiddenSize} is only used with prefixProjection: true; set prefixProjection: true or drop encoderHiddenSize`,
        { field: 'encoderHiddenSize' },
      );
    }
    this.prefixProjection = cfg.prefixProjection;
    this.encoderHiddenSize = cfg.prefixProjection ? (cfg.encoderHiddenSize ?? this.tokenDim) : null;
    const rng = options.rng ?? getRng();
    const p = this.numVirtualTokens;
    const width = this.numLayers * 2 * this.tokenDim;
    if (!this.prefixProjection) {
      this.registerModule('embedding', new Embedding({ numEmbeddings: p, embeddingDim: width, rng }));
    } else {
      const h = this.encoderHiddenSize!;
      this.registerModule('embedding', new Embedding({ numEmbeddings: p, embeddingDim: this.tokenDim, rng }));
      this.registerModule(
        'transform',
        new Sequential(
          new Linear({ inFeatures: this.tokenDim, outFeatures: h, rng }),
          new Tanh(),
          new Linear({ inFeatures: h, outFeatures: width, rng }),
        ),
      );
    }
  }

  /** Every layer's prefixes `[P, L·2·D]` (through the MLP when `prefixProjection`). */
  override forward(): Tensor {
    return this.prefixes();
  }

  /** Every layer's prefixes `[P, L·2·D]` (through the MLP when `prefixProjection`). */
  prefixes(): Tensor {
    const table = (this.getChild('embedding') as Embedding).weight;
    const transform = this.getChild('transform');
    return transform ? (transform.forward(table) as Tensor) : table;
  }

  /** Layer `layer`'s keys and values `[P, D]`, sliced from `all` (default: {@link prefixes}). */
  layerPrefix(layer: number, all?: Tensor): AttentionPrefix {
    check(
      Number.isInteger(layer) && layer >= 0 && layer < this.numLayers,
      'INVALID_INPUT',
      () => `PrefixTuningAdapter: layer ${layer} is not in 0…${this.numLayers - 1}`,
    );
    return tf.tidy(() => {
      const prefixes = all ?? this.prefixes();
      const p = this.numVirtualTokens;
      const d = this.tokenDim;
      return {
        k: tf.slice(prefixes, [0, 2 * layer * d], [p, d]),
        v: tf.slice(prefixes, [0, (2 * layer + 1) * d], [p, d]),
      };
    });
  }

  /**
   * Stores the prefixes the MLP computes as `embedding.weight [P, L·2·D]` and drops the MLP (what
   * PEFT saves for a prefix encoder with projection); outputs do not change. The new weight is
   * trainable iff the old embedding was. Returns false (and does nothing) without projection.
   */
  mergeProjection(): boolean {
    if (!this.prefixProjection) return false;
    const old = this.getChild('embedding') as Embedding;
    const trainable = old.weight.trainable;
    const merged = tf.tidy(() => this.forward());
    const table = new Embedding({
      numEmbeddings: this.numVirtualTokens,
      embeddingDim: this.numLayers * 2 * this.tokenDim,
      rng: createRng(0), // overwritten below: no draw from the library RNG
    });
    table.weight.assign(merged);
    table.weight.trainable = trainable;
    merged.dispose();
    this.replaceModule('embedding', table);
    old.dispose();
    this.removeModule('transform')?.dispose();
    this.prefixProjection = false;
    this.encoderHiddenSize = null;
    return true;
  }

  /**
   * Built by a transformer stack (see `prefix/hosts.ts`): the model's sizes fill `tokenDim`,
   * `numLayers`, `numAttentionHeads`; sizes given in the config must match them (`INVALID_CONFIG`).
   */
  static forStack(cfg: NormalizedAdapterConfig, sizes: StackSizes, where: string): StackAdapterParts {
    const config = { ...structuredClone(cfg), ...checkedSizes(cfg, sizes, where) };
    const { type: _t, enabled: _e, ...options } = config;
    return { adapter: new PrefixTuningAdapter(options as PrefixTuningAdapterOptions), config };
  }
}

/**
 * `tokenDim`, `numLayers`, `numAttentionHeads` from the stack; a config that gives one must give
 * the stack's value.
 */
export function checkedSizes(
  cfg: Record<string, unknown>,
  sizes: StackSizes,
  where: string,
): { tokenDim: number; numLayers: number; numAttentionHeads: number } {
  const derived = { tokenDim: sizes.dModel, numLayers: sizes.numLayers, numAttentionHeads: sizes.nHead };
  const wrong = (Object.keys(derived) as Array<keyof typeof derived>).filter(
    (k) => cfg[k] !== undefined && cfg[k] !== null && cfg[k] !== derived[k],
  );
  check(
    wrong.length === 0,
    'INVALID_CONFIG',
    () =>
      `${where}: ${wrong.map((k) => `${k} ${JSON.stringify(cfg[k])} does not match the model's ${derived[k]}`).join('; ')}; leave ${wrong.join(', ')} out to take the model's`,
    () => ({ fields: wrong }),
  );
  return derived;
}
