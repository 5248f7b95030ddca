export * from './safetensors.js';
export * from './safetensors-tf.js';
export {
  ADAPTER_FILE_FORMAT,
  ADAPTER_FILE_VERSION,
  loadAdapters,
  loadAdaptersFromFile,
  parseAdapterFile,
  saveAdapters,
  saveAdaptersToFile,
  type LoadAdaptersOptions,
} from './adapter-file.js';
export {
  MODEL_CONFIG_FILE,
  MODEL_WEIGHTS_FILE,
  readModelDir,
  restoreModel,
  saveModel,
  saveModelToDir,
  type ConfiguredModule,
  type ModelCheckpoint,
} from './model-checkpoint.js';
export { MAX_FILE_BYTES, readFileBytes, writeFileAtomic } from './atomic-file.js';
export {
  PEFT_CONFIG_FILE,
  PEFT_DEFAULT_ADAPTER,
  PEFT_PICKLE_FILE,
  PEFT_WEIGHTS_FILE,
  loadAdapter,
  loadPretrained,
  peftFiles,
  savePretrained,
  type FileSink,
  type FileSource,
  type LoadAdapterOptions,
  type LoadPretrainedOptions,
  type SavePretrainedOptions,
} from './peft.js';
export {
  PEFT_LORA_INERT_DEFAULTS,
  PEFT_LORA_UNSUPPORTED_DEFAULTS,
  PEFT_TASK_TYPES,
  PEFT_TYPES,
  dumpPeftJson,
  parsePeftConfig,
  peftConfigObject,
  type ParsedPeftConfig,
  type PeftAutoMapping,
  type PeftConfigExtras,
  type PeftConfigMeta,
  type PeftType,
} from './peft-config.js';
