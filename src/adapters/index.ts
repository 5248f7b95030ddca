import './builtins.js';

export { AdapterModule, type AdapterModuleOptions } from './adapter-module.js';
export {
  AccessContext,
  DEFAULT_ACCESS_CFG,
  getAccessContext,
  getModuleRegistry,
  registerAccessibleTensor,
  resetRegistry,
  setAccessContext,
  withAccess,
  type AccessConfig,
  type ModuleRegistry,
} from './access.js';
export {
  getRegisteredAdapter,
  registerAdapter,
  updateModuleClassWithAdapterClass,
  type AdapterClassRecord,
} from './class-registry.js';
export {
  buildAdapter,
  buildStrategy,
  getAdapterTypeSchema,
  getStrategyTypeSchema,
  listAdapterTypes,
  listStrategyTypes,
  parseAdapterConfig,
  registerAdapterType,
  registerStrategyType,
  type AdapterClass,
  type StrategyClass,
} from './registry.js';
export {
  configField,
  describeConfigSchema,
  parseConfig,
  type ConfigObjectSchema,
  type FieldDescription,
  type FieldKind,
  type TypeSchema,
} from './config-schema.js';
export { unfreezeEnabledAdapters, withAdapters, libraryFrozen, type AdapterHostModule } from './host.js';
export { isAdapterHost } from './host-brand.js';
export {
  withAdapterModel,
  getSubmodule,
  type AdapterModelConfig,
  type AdapterModelModule,
  type AuxiliaryLosses,
} from './model.js';
export { withLayeredAdapters, INPUT_SIZE_FIELDS } from './layered-host.js';
export {
  withAttentionAdapters,
  SELF_ATTENTION_MODELS,
  TRANSFORMER_INSERTION_POINTS,
  CONFORMER_INSERTION_POINTS,
  type AdapterLocation,
  type AdapterPointInput,
  type AttentionHostOptions,
  type AttentionHostAdapterKind,
  type InsertionPoint,
} from './attention-host.js';
export {
  inspectInsertionPoints,
  type HostInsertionPoints,
  type InsertionPointInfo,
  type InsertionPointReport,
} from './insertion-points.js';
export { BASE_SELECTION, type AdapterSelection } from './per-sample.js';
export { DEFAULT_MODEL_GUID, modelGuidOf, setModelGuid, shareModelGuid } from './model-guid.js';
export {
  declareRowwiseAdapter,
  declareRowwiseInput,
  declareRowwiseStrategy,
  type RowwiseAdapterKind,
  type RowwiseInput,
  type RowwiseInputOf,
  type RowwiseStrategyKind,
} from './rowwise.js';
export {
  LinearAdapter,
  linearAdapterSchema,
  type LinearAdapterConfig,
  type LinearAdapterOptions,
} from './linear/index.js';
export {
  MhaResidualAddStrategy,
  MultiplicativeStrategy,
  ResidualAddStrategy,
  ReturnResultStrategy,
  type ResidualAddOptions,
} from './strategies/index.js';
export {
  RESERVED_ADAPTER_NAMES,
  type AdapterConfig,
  type AdapterInput,
  type AdapterStrategy,
  type AdaptersConfig,
  type GlobalAdapterCfg,
  type NormalizedAdapterConfig,
  type StrategyConfig,
} from './types.js';
export * from './attention/index.js';
export * from './positional/index.js';
export * from './infused/index.js';
export { fromNemoConfig, NEMO_CLASS_PATHS } from './nemo-config.js';
export {
  TransformerDecoderAdapter,
  TransformerDecoderBlockAdapter,
  TransformerEncoderAdapter,
  TransformerEncoderBlockAdapter,
} from './transformer-hosts.js';
// Adapter-owned heads: modulesToSave copies and output extensions of NeMo-style adapters (SPEC §5.2).
export {
  AdapterHeadsWrapper,
  OutputExtension,
  baseOutputLabels,
  outputLabels,
  type HeadsConfigInput,
} from './heads/index.js';
// The tuner core: wrapper layers, the PEFT-managed model, target matching, the method registry (SPEC §4).
export {
  BaseTunerLayer,
  BATCH_NORM_STAT_BUFFERS,
  COMBINATION_TYPES,
  LinearTunerLayer,
  ModulesToSaveWrapper,
  ParameterDict,
  PeftModel,
  adapterStateDict,
  cloneModule,
  compilePattern,
  getTunerMethod,
  getWrapperTypeSchema,
  inspectTargets,
  isAdapterInternalKey,
  listWrapperTypes,
  matchesModulesToSave,
  selectModulesToSave,
  parseWrapperConfig,
  peftModelOf,
  pythonRegexToJs,
  pythonRegexToRe2,
  registerTunerMethod,
  unregisterTunerMethod,
  type AdapterTensor,
  type BaseTunerConfig,
  type CombinationType,
  type MatchedTarget,
  type ModelTargetHints,
  type NormalizedWrapperConfig,
  type SharedAdapterState,
  type TargetReport,
  type TunerBiasMode,
  type TunerConfigTypes,
  type TunerContext,
  type TunerKind,
  type TunerLayerClass,
  type TunerMethod,
  type WeightedAdapterOptions,
  type WrapOptions,
  type WrapperConfig,
} from './tuners/index.js';
// LoRA and DoRA (SPEC §4.1).
export {
  INIT_LORA_WEIGHTS,
  LORA_BIAS_CHOICES,
  LoraEmbedding,
  LoraLinear,
  loraConfigSchema,
  loraMethod,
  loraScaling,
  lowRankSvd,
  parseLoraConfig,
  type InitLoraWeights,
  type LoraAdapterInfo,
  type LoraAdapterOptions,
  type LoraBiasMode,
  type LoraConfig,
  type NormalizedLoraConfig,
  type TargetSpec,
} from './lora/index.js';
export {
  IA3_UNMERGE_EPS,
  Ia3Linear,
  ia3ConfigSchema,
  ia3Method,
  parseIa3Config,
  type Ia3Config,
  type NormalizedIa3Config,
} from './ia3/index.js';
// VeRA (SPEC §5.4).
export {
  VERA_BIAS_CHOICES,
  VeraLinear,
  VeraProjectionPair,
  generateVeraProjections,
  parseVeraConfig,
  veraConfigSchema,
  veraKaimingBound,
  veraMethod,
  veraProjectionSizes,
  type NormalizedVeraConfig,
  type VeraAdapterOptions,
  type VeraBiasMode,
  type VeraConfig,
  type VeraProjections,
} from './vera/index.js';
export {
  formatTrainableParameters,
  trainableParameterReport,
  type TrainableParameterReport,
} from './report.js';
export {
  PARALLEL_DEFAULT_STRATEGY,
  ParallelAdapter,
  parallelAdapterSchema,
  type ParallelAdapterConfig,
  type ParallelAdapterOptions,
} from './parallel/index.js';
// Prefix tuning (PEFT's PrefixEncoder) and the MAM adapter (He et al. 2022), held by transformer stacks (SPEC §5.3).
export {
  PrefixTuningAdapter,
  isStackAdapterType,
  mergeAndUnloadPrefix,
  prefixTuningSchema,
  type PrefixSource,
  type PrefixTuningAdapterOptions,
  type PrefixTuningConfig,
  type StackSizes,
} from './prefix/index.js';
export {
  MamAdapter,
  mamAdapterSchema,
  mamFfnSchema,
  type MamAdapterConfig,
  type MamAdapterOptions,
} from './mam/index.js';
export {
  batchSizeOf,
  groupRows,
  normalizeSelection,
  rowDropout,
  rowSelection,
  runRowGroups,
  selectPerRow,
  type RowGroup,
} from './per-sample.js';
// Composition blocks (Stack, Parallel, BatchSplit, Average, Fuse) and AdapterFusion (SPEC §5.1).
export * from './composition/index.js';
