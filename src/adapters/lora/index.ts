/** LoRA (and DoRA): config, wrapper layers, weighted combination. */
export {
  INIT_LORA_WEIGHTS,
  LORA_BIAS_CHOICES,
  loraConfigSchema,
  loraScaling,
  parseLoraConfig,
  type InitLoraWeights,
  type LoraBiasMode,
  type LoraConfig,
  type NormalizedLoraConfig,
  type TargetSpec,
} from './config.js';
export { LoraEmbedding, LoraLinear, type LoraAdapterInfo, type LoraAdapterOptions } from './layer.js';
export { PEFT_KEY_PREFIX, type LoadPeftTensorsResult } from './peft-tensors.js';
export { COMBINATION_TYPES, type CombinationType, type WeightedAdapterOptions } from './weighted.js';
export { lowRankSvd } from './svd.js';
