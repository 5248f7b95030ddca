/**
 * The tuner core (what PEFT keeps in `tuners_utils.py` and `peft_model.py`): the base wrapper layer,
 * the PEFT-managed model, target matching, modules-to-save copies and the registry of tuner methods.
 * Methods (`lora/`, `ia3/`) live in sibling folders and register themselves.
 */
export {
  BaseTunerLayer,
  LinearTunerLayer,
  ParameterDict,
  type AdapterTensor,
  type TunerContext,
  type TunerKind,
} from './tuner-layer.js';
export type { BaseTunerConfig, TargetPatterns } from './tuner-config.js';
export { ModulesToSaveWrapper, cloneModule, selectModulesToSave } from './modules-to-save.js';
export {
  fillDefaultTargets,
  inspectTargets,
  matchesModulesToSave,
  type MatchedTarget,
  type ModelTargetHints,
  type TargetPlan,
  type TargetReport,
} from './targets.js';
export { compilePattern, pythonRegexToJs, pythonRegexToRe2, type LinearPattern } from './regex.js';
export { PeftModel, peftModelOf, type WrapOptions } from './peft-model.js';
export { adapterStateDict, BATCH_NORM_STAT_BUFFERS } from './state.js';
export { COMBINATION_TYPES, type CombinationType, type WeightedAdapterOptions } from './combination.js';
export {
  getTunerMethod,
  getWrapperTypeSchema,
  isAdapterInternalKey,
  listWrapperTypes,
  parseWrapperConfig,
  registerTunerMethod,
  unregisterTunerMethod,
  type NormalizedWrapperConfig,
  type SharedAdapterState,
  type TunerBiasMode,
  type TunerConfigTypes,
  type TunerLayerClass,
  type TunerMethod,
  type WrapperConfig,
} from './registry.js';
