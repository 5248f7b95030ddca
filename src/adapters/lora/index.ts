/**
 * LoRA (and the machinery IA³ shares): config, wrapper layers, target matching, the PEFT-managed model.
 */
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
export { BaseTunerLayer, ParameterDict, type AdapterTensor, type TunerContext, type TunerKind } from './tuner-layer.js';
export { ModulesToSaveWrapper, cloneModule } from './modules-to-save.js';
export { inspectTargets, matchesModulesToSave, type MatchedTarget, type ModelTargetHints, type TargetReport } from './targets.js';
export { compilePattern, pythonRegexToJs, pythonRegexToRe2, type LinearPattern } from './regex.js';
export { PeftModel, peftModelOf, type WrapOptions } from './model.js';
export { adapterStateDict, BATCH_NORM_STAT_BUFFERS } from './state.js';
export { PEFT_KEY_PREFIX, type LoadPeftTensorsResult } from './peft-tensors.js';
export { COMBINATION_TYPES, type CombinationType, type WeightedAdapterOptions } from './weighted.js';
export { getWrapperTypeSchema, listWrapperTypes, parseWrapperConfig, type NormalizedWrapperConfig, type WrapperConfig } from './wrapper-kinds.js';
export { lowRankSvd } from './svd.js';
