/**
 * adapterkit: parameter-efficient adaptation of neural networks on TensorFlow.js.
 *
 * This is the core entry (`adapterkit`): it runs in Node and in browsers and imports no Node module.
 * What needs Node (paths, atomic files, trainer checkpoint files, the dataset loaders) is in
 * `adapterkit/node` (`src/node.ts`), which also re-exports everything here.
 *
 * Layers: `backend` (TensorFlow.js set-up) → `nn` (modules and layers) → `adapters` (NeMo-style
 * adapters, LoRA and relatives) → `io` (safetensors, adapter files, PEFT) → `models`, `data`,
 * `train` → `recipes` → `cli`.
 *
 * @example
 * ```ts
 * import { initBackend, nn, adapters } from 'adapterkit';
 * await initBackend();
 * model.addAdapter('decoder:first', { type: 'linear', inFeatures: 256, dim: 32 });
 * ```
 */
export { tf } from './backend/tf.js';
export {
  initBackend,
  getBackendInfo,
  BACKEND_NAMES,
  BACKEND_ENV_VAR,
  BROWSER_DEFAULT_BACKENDS,
  WASM_FILE_NAMES,
  WEBGPU_PACKAGE,
  FUSED_OPS,
  JS_KERNELS_ENV_VAR,
  JS_KERNEL_OPS,
  JS_TRAINING_ONLY_OPS,
  type BackendInfo,
  type BackendName,
  type FusedOp,
  type InitBackendOptions,
  type KernelSet,
  type WasmFileName,
} from './backend/backend.js';
export { AdapterError, type AdapterErrorCode } from './errors.js';
export { setLogger, type Logger } from './logger.js';
export { createRng, getRng, manualSeed, setRng, type Rng } from './rng.js';

export * as nn from './nn/index.js';
export * as adapters from './adapters/index.js';
export * as io from './io/index.js';

// The most used names, also at the top level.
export { Module } from './nn/module.js';
export {
  withAdapters,
  withLayeredAdapters,
  withAttentionAdapters,
  registerAdapter,
  registerAdapterType,
  LinearAdapter,
  AdapterModule,
  unfreezeEnabledAdapters,
  Stack,
  Parallel,
  BatchSplit,
  Average,
  Fuse,
} from './adapters/index.js';
export {
  saveAdapters,
  loadAdapters,
  saveModel,
  restoreModel,
  setPathFiles,
  type PathFiles,
} from './io/index.js';
// The adapter-model classes with their file methods (the io layer's, built on the adapters core).
export { withAdapterModel, makeAdapterModel, PeftModel, type AdapterModelOptions } from './io/index.js';
export {
  inspectTargets,
  inspectInsertionPoints,
  adapterStateDict,
  trainableParameterReport,
  formatTrainableParameters,
  outputLabels,
  type HeadsConfigInput,
  type LoraConfig,
  type Ia3Config,
  type VeraConfig,
} from './adapters/index.js';
export { mergeAndUnloadPrefix, type PrefixTuningConfig, type MamAdapterConfig } from './adapters/index.js';
export * as models from './models/index.js';
export * as data from './data/index.js';
// `train` also carries the language-model recipes, as it did before they moved to `recipes`.
export * as train from './recipes/train-namespace.js';
export * as recipes from './recipes/index.js';
// The training layer, the recipes, the vocabulary and batching helpers at the top level too.
export * from './train/index.js';
export * from './recipes/index.js';
export * from './data/index.js';
export {
  savePretrained,
  loadPretrained,
  loadAdapter,
  peftTensorsFor,
  loadPeftTensors,
  type FileSink,
  type FileSource,
  type SavePretrainedOptions,
  type LoadPretrainedOptions,
  type LoadAdapterOptions,
  type PeftAutoMapping,
} from './io/index.js';
