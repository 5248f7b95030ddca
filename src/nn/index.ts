export {
  Module,
  toVariable,
  fmtShape,
  type ModuleClass,
  type StateDict,
  type StateDictLike,
} from './module.js';
export {
  BatchNorm,
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  Dropout,
  Embedding,
  LayerNorm,
  Linear,
  ModuleDict,
  Sequential,
  dropout,
  layerNorm,
  linear,
  type BatchNormOptions,
  type LayerNormOptions,
  type LinearOptions,
} from './layers.js';
export { ACTIVATIONS, ActivationLayer, activationFn, gelu, swish, type Activation } from './activations.js';
export { normal, uniform } from './init.js';
export {
  ATTENTION_MASK_VALUE,
  MultiHeadAttention,
  causalMask,
  paddingMaskToAdditive,
  type AttentionForwardOptions,
  type MultiHeadAttentionOptions,
} from './attention.js';
export {
  FeedForward,
  TransformerBlock,
  TransformerDecoder,
  TransformerDecoderBlock,
  TransformerEncoder,
  TransformerEncoderBlock,
  TransformerStack,
  type TransformerBlockOptions,
  type TransformerDecoderBlockOptions,
  type TransformerDecoderForwardOptions,
  type TransformerDecoderOptions,
  type TransformerForwardOptions,
  type TransformerStackOptions,
} from './transformer.js';
export { selfAttentionWithPast, type AttentionStep, type PastKeyValues } from './kv-attention.js';
