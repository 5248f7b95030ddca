/**
 * The reference models: a character-level LM, a transformer encoder classifier and an MLP
 * classifier, plus the registry that builds them from stored configs.
 */
export { CharLM, CHAR_LM, type CharLMConfig } from './char-lm.js';
export {
  EncoderClassifier,
  ENCODER_CLASSIFIER,
  type EncoderClassifierConfig,
  type LoadEmbeddingsOptions,
} from './encoder-classifier.js';
export {
  MlpClassifier,
  MlpBlock,
  MlpBlockAdapter,
  MlpBody,
  MlpBodyAdapter,
  MLP_CLASSIFIER,
  type MlpBlockOptions,
  type MlpClassifierConfig,
} from './mlp-classifier.js';
export { sinusoidTable } from './positions.js';
export { SequenceCache, isCachedInput, type CachedInput } from './kv-cache.js';
export { argMax, drawToken, nextTokenProbs, sampleIndex } from './sampling.js';
export {
  MODEL_NAMES,
  buildModel,
  isModelName,
  restoreModelFromCheckpoint,
  type ModelConfig,
  type ModelName,
  type RegisteredModel,
} from './registry.js';
