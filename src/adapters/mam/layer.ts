import type { Tensor } from '../../backend/tf.js';
import type { AttentionPrefix } from '../../nn/attention.js';
import { AdapterModule, type AdapterModuleOptions } from '../adapter-module.js';
import { parseConfig } from '../config-schema.js';
import { ParallelAdapter } from '../parallel/layer.js';
import type { PrefixPartConfig } from '../prefix/config.js';
import type { StackAdapterParts, StackSizes } from '../prefix/hosts.js';
import { checkedSizes, PrefixTuningAdapter } from '../prefix/layer.js';
import type { NormalizedAdapterConfig } from '../types.js';
import { mamAdapterSchema, type NormalizedMamAdapterConfig } from './config.js';

/** Constructor options of {@link MamAdapter}: the `mam` config's parts and the stack's sizes. */
export interface MamAdapterOptions extends AdapterModuleOptions {
  prefix: PrefixPartConfig;
  ffn: { dim: number; scaling?: number; activation?: string; dropout?: number };
  tokenDim: number;
  numLayers: number;
  numAttentionHeads: number;
}

/**
 * The MAM adapter of He, Zhou, Ma, Berg-Kirkpatrick and Neubig, "Towards a Unified View of
 * Parameter-Efficient Transfer Learning" (ICLR 2022): prefix tuning on every self-attention plus the
 * scaled parallel adapter (`parallel`, `h_post = h + FFN(LN(h)) + s·A(h)`) beside every FFN, under
 * one adapter name.
 *
 * Added to a transformer stack, the stack holds this module (state keys `prefix.embedding.weight`,
 * and `prefix.transform.*` with `prefixProjection`; see {@link PrefixTuningAdapter}) and every block
 * holds a {@link ParallelAdapter} under the same name (`down`, `up`). Enabling, disabling, freezing,
 * saving and loading act on all of them together. Parameter count: the prefix part plus
 * `L · (2·D·dim + D + dim)`.
 *
 * @example
 * ```ts
 * lm.addAdapter('decoder:mam', { type: 'mam', prefix: { numVirtualTokens: 8 }, ffn: { dim: 32, scaling: 4 } });
 * ```
 */
export class MamAdapter extends AdapterModule {
  static override readonly typeName: string = 'MamAdapter';
  /** The prefix part (every layer's keys and values). */
  readonly prefix: PrefixTuningAdapter;
  /** The FFN part's settings (the per-block parallel adapters are built from them). */
  readonly ffn: NormalizedMamAdapterConfig['ffn'];

  constructor(options: MamAdapterOptions) {
    super(options);
    const { adapterStrategy: _s, rng, tokenDim, numLayers, numAttentionHeads, ...fields } = options;
    const cfg = parseConfig(mamAdapterSchema, { type: 'mam', ...fields }, 'MamAdapter');
    this.ffn = cfg.ffn;
    this.prefix = this.registerModule(
      'prefix',
      new PrefixTuningAdapter({ ...cfg.prefix, tokenDim, numLayers, numAttentionHeads, rng }),
    );
  }

  /** Layer `layer`'s prefix keys and values `[P, D]`. */
  layerPrefix(layer: number, all?: Tensor): AttentionPrefix {
    return this.prefix.layerPrefix(layer, all);
  }

  /** Every layer's prefixes `[P, L·2·D]` of the prefix part. */
  prefixes(): Tensor {
    return this.prefix.prefixes();
  }

  /** Merges the prefix MLP into the prefixes (see {@link PrefixTuningAdapter.mergeProjection}). */
  mergeProjection(): boolean {
    return this.prefix.mergeProjection();
  }

  /** Built by a transformer stack: this module for the stack, a parallel adapter per block. */
  static forStack(cfg: NormalizedAdapterConfig, sizes: StackSizes, where: string): StackAdapterParts {
    const config = structuredClone(cfg) as NormalizedAdapterConfig & NormalizedMamAdapterConfig;
    const dims = checkedSizes({}, sizes, where);
    const adapter = new MamAdapter({ prefix: config.prefix, ffn: config.ffn, ...dims });
    const { dim, scaling, activation, dropout } = config.ffn;
    return {
      adapter,
      config,
      blockAdapter: () =>
        new ParallelAdapter({ inFeatures: sizes.dModel, dim, scaling, activation, dropout }),
    };
  }
}
