/**
 * Config schemas of the three attention adapter types (SPEC §2.9.3). Each schema's field set is the
 * constructor's option names plus `type` and `enabled` (SPEC B-139).
 */
import { z } from 'zod';
import { adapterConfigSchema, configField, type AdapterFields } from '../config-schema.js';
import type { StrategyConfig } from '../types.js';

/**
 * Fields of the `multiHeadAttention` adapter type (shared by `relPositionMultiHeadAttention`).
 *
 * NeMo note: NeMo's adapter *class* requires `dropout_rate`, while its config dataclasses
 * (`MultiHeadAttentionAdapterConfig`, `RelPositionMultiHeadAttentionAdapterConfig`) default it to
 * 0.0; configs are what users write, so `dropoutRate` defaults to 0 here.
 */
export const multiHeadAttentionAdapterSchema = adapterConfigSchema({
  /** Number of heads. */
  nHead: configField.positiveInt(),
  /** Model width (input and output features); must be divisible by `nHead`. */
  nFeat: configField.positiveInt(),
  /** Dropout on the attention probabilities (training only). Default 0. */
  dropoutRate: configField.probability().default(0),
  /** Projected width: `null` → `nFeat`; `< 1` → `nHead` (head size 1); `≥ 1` → itself. Default null. */
  projDim: configField.int().nullable().default(null),
  /** Select the alternative (SDPA-semantics) attention path; see the class TSDoc. Default false. */
  useFusedAttention: configField.boolean().default(false),
});

/** Fields of the `relPositionMultiHeadAttention` adapter type (same as `multiHeadAttention`). */
export const relPositionMultiHeadAttentionAdapterSchema = multiHeadAttentionAdapterSchema.extend({});

/** Fields of the `transformerMultiHeadAttention` adapter type. */
export const transformerMultiHeadAttentionAdapterSchema = adapterConfigSchema({
  /** Model width (input and output features); must be divisible by `numAttentionHeads`. */
  hiddenSize: configField.positiveInt(),
  /** Number of heads. */
  numAttentionHeads: configField.positiveInt(),
  /** Dropout on the attention probabilities. Default 0. */
  attnScoreDropout: configField.probability().default(0),
  /** Dropout on the output projection. Default 0. */
  attnLayerDropout: configField.probability().default(0),
  /** Projected width: `null` → `hiddenSize`; `< 1` → `numAttentionHeads`; `≥ 1` → itself. Default null. */
  projDim: configField.int().nullable().default(null),
});

/** The default strategy of every attention adapter type: residual add onto `value`/`values`. */
export const ATTENTION_DEFAULT_STRATEGY: Readonly<StrategyConfig> = Object.freeze({ type: 'mhaResidualAdd' });

/** What a caller writes to add a conformer-style attention adapter. */
export type MultiHeadAttentionAdapterConfig = z.input<typeof multiHeadAttentionAdapterSchema> & {
  type: 'multiHeadAttention' | 'relPositionMultiHeadAttention';
};
/** The stored form of a conformer-style attention adapter config. */
export type NormalizedMultiHeadAttentionAdapterConfig = z.output<typeof multiHeadAttentionAdapterSchema>;
/** The fields the conformer attention adapters' constructors take besides the strategy and random source. */
export type MultiHeadAttentionAdapterFields = AdapterFields<typeof multiHeadAttentionAdapterSchema>;

/** What a caller writes to add a transformer-style attention adapter. */
export type TransformerMultiHeadAttentionAdapterConfig = z.input<
  typeof transformerMultiHeadAttentionAdapterSchema
> & {
  type: 'transformerMultiHeadAttention';
};
/** The stored form of a transformer-style attention adapter config. */
export type NormalizedTransformerMultiHeadAttentionAdapterConfig = z.output<
  typeof transformerMultiHeadAttentionAdapterSchema
>;
/** The fields `TransformerMultiHeadAttentionAdapter`'s constructor takes besides the strategy and random source. */
export type TransformerMultiHeadAttentionAdapterFields = AdapterFields<
  typeof transformerMultiHeadAttentionAdapterSchema
>;
