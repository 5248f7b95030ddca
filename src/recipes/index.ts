/**
 * The recipes layer: tasks built on the training layer with the library's models and data. Language-model
 * training and bits per character, and adapting a character LM one method at a time. Browser-safe;
 * the recipes that read corpora or model directories from disk (pretraining, the spam classifier, the
 * base-model loader) are imported by the CLI and the jobs from their own files. Re-exported by `src/index.ts`.
 */
export { evaluateBpc, lmLoss, trainLm } from './lm.js';
export type { EvaluateBpcOptions, LanguageModel, TrainLmOptions } from './lm.js';
export { ADAPT_METHODS, ADAPTER_NAME, adaptCharLm, attachMethod } from './adapt.js';
export type { AdaptMethod, AdaptMethodKind, AdaptOptions, AdaptResult, AttachedMethod } from './adapt.js';
