/**
 * The io layer's browser-safe part: safetensors, adapter files, model checkpoints and PEFT directories
 * as bytes in and bytes out (PEFT through a FileSink / FileSource). Paths: see `node-index.ts`.
 * Also the public adapter-model classes built on the adapters layer's core: `withAdapterModel` and
 * `makeAdapterModel` (with `saveAdapters` / `loadAdapters`), and `PeftModel` (with `savePretrained`,
 * `loadAdapter`, `loadPretrained`).
 */
export * from './safetensors.js';
export * from './safetensors-tf.js';
export {
  ADAPTER_FILE_FORMAT,
  ADAPTER_FILE_VERSION,
  loadAdapters,
  parseAdapterFile,
  saveAdapters,
  type LoadAdaptersOptions,
  type LoadAdaptersResult,
} from './adapter-file.js';
export { withAdapterModel, type AdapterModelModule } from './adapter-model.js';
export { makeAdapterModel, type AdapterModelClass, type AdapterModelOptions } from './make-adapter-model.js';
export {
  MODEL_CONFIG_FILE,
  MODEL_WEIGHTS_FILE,
  restoreModel,
  saveModel,
  type ConfiguredModule,
  type ModelCheckpoint,
} from './model-checkpoint.js';
export { requirePathFiles, setPathFiles, type PathFiles, type PathKind } from './path-files.js';
export {
  PEFT_CONFIG_FILE,
  PEFT_DEFAULT_ADAPTER,
  PEFT_PICKLE_FILE,
  PEFT_WEIGHTS_FILE,
  loadAdapter,
  peftFiles,
  savePretrained,
  type FileSink,
  type FileSource,
} from './peft.js';
export { PeftModel, loadPretrained } from './peft-model.js';
export {
  PEFT_WRITE_DTYPES,
  loadAdapterOptionsSchema,
  loadPretrainedOptionsSchema,
  savePretrainedOptionsSchema,
  type LoadAdapterOptions,
  type LoadPretrainedOptions,
  type ParsedLoadPretrainedOptions,
  type ParsedSavePretrainedOptions,
  type SavePretrainedOptions,
} from './peft-options.js';
export { PEFT_KEY_PREFIX, loadPeftTensors, peftTensorsFor, type LoadPeftTensorsResult } from './peft-keys.js';
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
export { listPeftTypes, registerPeftFormat, type PeftFormat } from './peft-formats.js';
