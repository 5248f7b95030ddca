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
export { readFileBytes, writeFileAtomic } from './atomic-file.js';
