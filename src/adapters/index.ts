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
export { ConfigSchema, field, type FieldDescription, type FieldKind, type TypeSchema } from './schema.js';
export { unfreezeEnabledAdapters, withAdapters, libraryFrozen, type AdapterHostModule } from './host.js';
export { isAdapterHost } from './host-brand.js';
export { withAdapterModel, getSubmodule, type AdapterModelConfig, type AdapterModelModule, type AuxiliaryLosses } from './model.js';
export { withLayeredAdapters, INPUT_SIZE_FIELDS } from './layered-host.js';
export {
  withAttentionAdapters,
  SELF_ATTENTION_MODELS,
  type AdapterLocation,
  type AdapterPointInput,
  type AttentionHostOptions,
} from './attention-host.js';
export { BASE_SELECTION, type AdapterSelection } from './per-sample.js';
export { setAdapterCheckpointCodec, type AdapterCheckpointCodec, type LoadAdaptersOptions, type LoadAdaptersResult } from './checkpoint-codec.js';
export { LinearAdapter, linearAdapterSchema, type LinearAdapterConfig, type LinearAdapterOptions } from './linear/index.js';
export { MhaResidualAddStrategy, ResidualAddStrategy, ReturnResultStrategy, type ResidualAddOptions } from './strategies/index.js';
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
