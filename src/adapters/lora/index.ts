/** LoRA (and DoRA): config, wrapper layers, weighted combination, and its registration as a tuner method. */
import { registerTunerMethod } from '../tuners/registry.js';
import { loraMethod } from './model.js';

registerTunerMethod(loraMethod);

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
export { loraMethod } from './model.js';
export { lowRankSvd } from './svd.js';
