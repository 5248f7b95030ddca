/**
 * Config schemas of the three attention adapter types (SPEC §2.9.3). Each schema's field set is the
 * constructor's option names plus `type` and `enabled` (SPEC B-139).
 */
import { ConfigSchema, field } from '../schema.js';
import type { StrategyConfig } from '../types.js';

/**
 * Fields shared by `multiHeadAttention` and `relPositionMultiHeadAttention`.
 *
 * NeMo note: NeMo's adapter *class* requires `dropout_rate`, while its config dataclasses
 * (`MultiHeadAttentionAdapterConfig`, `RelPositionMultiHeadAttentionAdapterConfig`) default it to
 * 0.0; configs are what users write, so `dropoutRate` defaults to 0 here.
 */
function conformerAttentionSchema(): ConfigSchema {
  return new ConfigSchema({
    type: field.string(),
    enabled: field.boolean({ default: true }),
    nHead: field.positiveInt(),
    nFeat: field.positiveInt(),
    dropoutRate: field.probability({ default: 0 }),
    projDim: field.int({ default: null, nullable: true }),
    useFusedAttention: field.boolean({ default: false }),
    adapterStrategy: field.strategy({ default: null, nullable: true }),
  });
}

/** Fields of the `multiHeadAttention` adapter type. */
export const multiHeadAttentionAdapterSchema = conformerAttentionSchema();

/** Fields of the `relPositionMultiHeadAttention` adapter type (same as `multiHeadAttention`). */
export const relPositionMultiHeadAttentionAdapterSchema = conformerAttentionSchema();

/** Fields of the `transformerMultiHeadAttention` adapter type. */
export const transformerMultiHeadAttentionAdapterSchema = new ConfigSchema({
  type: field.string(),
  enabled: field.boolean({ default: true }),
  hiddenSize: field.positiveInt(),
  numAttentionHeads: field.positiveInt(),
  attnScoreDropout: field.probability({ default: 0 }),
  attnLayerDropout: field.probability({ default: 0 }),
  projDim: field.int({ default: null, nullable: true }),
  adapterStrategy: field.strategy({ default: null, nullable: true }),
});

/** The default strategy of every attention adapter type: residual add onto `value`/`values`. */
export const ATTENTION_DEFAULT_STRATEGY: Readonly<StrategyConfig> = Object.freeze({ type: 'mhaResidualAdd' });

/** What a caller writes to add a conformer-style attention adapter. */
export interface MultiHeadAttentionAdapterConfig {
  type: 'multiHeadAttention' | 'relPositionMultiHeadAttention';
  /** Number of heads. */
  nHead: number;
  /** Model width (input and output features). */
  nFeat: number;
  /** Dropout on the attention probabilities. Default 0. */
  dropoutRate?: number;
  /** Projected width: `null` → `nFeat`; `< 1` → `nHead` (head size 1); `≥ 1` → itself. Default null. */
  projDim?: number | null;
  /** Select the alternative (SDPA-semantics) attention path; see the class TSDoc. Default false. */
  useFusedAttention?: boolean;
  /** Default `{type: 'mhaResidualAdd', stochasticDepth: 0, l2Lambda: 0}`. */
  adapterStrategy?: StrategyConfig | null;
  /** Default true. */
  enabled?: boolean;
}

/** What a caller writes to add a transformer-style attention adapter. */
export interface TransformerMultiHeadAttentionAdapterConfig {
  type: 'transformerMultiHeadAttention';
  /** Model width (input and output features). */
  hiddenSize: number;
  /** Number of heads. */
  numAttentionHeads: number;
  /** Dropout on the attention probabilities. Default 0. */
  attnScoreDropout?: number;
  /** Dropout on the output projection. Default 0. */
  attnLayerDropout?: number;
  /** Projected width, as for `multiHeadAttention`. Default null. */
  projDim?: number | null;
  /** Default `{type: 'mhaResidualAdd', stochasticDepth: 0, l2Lambda: 0}`. */
  adapterStrategy?: StrategyConfig | null;
  /** Default true. */
  enabled?: boolean;
}
