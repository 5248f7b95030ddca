/**
 * Registers the three attention adapter types (SPEC §2.9.3): `multiHeadAttention`,
 * `relPositionMultiHeadAttention`, `transformerMultiHeadAttention`, each defaulting to `mhaResidualAdd`.
 */
// The default strategies must be registered before an adapter of this kind can be built.
import '../strategies/index.js';
import { registerAdapterType } from '../registry.js';
import {
  ATTENTION_DEFAULT_STRATEGY,
  multiHeadAttentionAdapterSchema,
  relPositionMultiHeadAttentionAdapterSchema,
  transformerMultiHeadAttentionAdapterSchema,
} from './config.js';
import {
  MultiHeadAttentionAdapter,
  RelPositionMultiHeadAttentionAdapter,
  TransformerMultiHeadAttentionAdapter,
} from './layer.js';

registerAdapterType('multiHeadAttention', {
  ctor: MultiHeadAttentionAdapter,
  schema: multiHeadAttentionAdapterSchema,
  defaultStrategy: { ...ATTENTION_DEFAULT_STRATEGY },
});
registerAdapterType('relPositionMultiHeadAttention', {
  ctor: RelPositionMultiHeadAttentionAdapter,
  schema: relPositionMultiHeadAttentionAdapterSchema,
  defaultStrategy: { ...ATTENTION_DEFAULT_STRATEGY },
});
registerAdapterType('transformerMultiHeadAttention', {
  ctor: TransformerMultiHeadAttentionAdapter,
  schema: transformerMultiHeadAttentionAdapterSchema,
  defaultStrategy: { ...ATTENTION_DEFAULT_STRATEGY },
});

export {
  MHA_MASK_VALUE,
  MultiHeadAttentionAdapter,
  RelPositionMultiHeadAttentionAdapter,
  TransformerMultiHeadAttentionAdapter,
  relShift,
  resolveAttentionDims,
} from './layer.js';
export type {
  AttentionDims,
  MultiHeadAttentionAdapterInput,
  MultiHeadAttentionAdapterOptions,
  RelPositionMultiHeadAttentionAdapterOptions,
  TransformerMultiHeadAttentionAdapterInput,
  TransformerMultiHeadAttentionAdapterOptions,
} from './layer.js';
export {
  ATTENTION_DEFAULT_STRATEGY,
  multiHeadAttentionAdapterSchema,
  relPositionMultiHeadAttentionAdapterSchema,
  transformerMultiHeadAttentionAdapterSchema,
} from './config.js';
export type {
  MultiHeadAttentionAdapterConfig,
  TransformerMultiHeadAttentionAdapterConfig,
} from './config.js';
