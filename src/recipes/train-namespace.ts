/**
 * The package's `train` namespace: the training layer, plus the language-model recipes it held before
 * they had their own layer, so `train.trainLm` and `train.attachMethod` keep working. New code reaches the
 * recipes through the `recipes` namespace or the top-level names.
 */
export * from '../train/index.js';
export {
  ADAPT_METHODS,
  ADAPTER_NAME,
  adaptCharLm,
  attachMethod,
  evaluateBpc,
  lmLoss,
  trainLm,
} from './index.js';
export type {
  AdaptMethod,
  AdaptMethodKind,
  AdaptOptions,
  AdaptResult,
  AttachedMethod,
  EvaluateBpcOptions,
  LanguageModel,
  TrainLmOptions,
} from './index.js';
