/**
 * Character vocabulary: a fixed, deterministic map between Unicode code points and integer ids, with
 * reserved ids for padding and unknown characters. A model checkpoint stores it (`toJSON`) so that text is
 * encoded the same way at training and inference time, and `assertCompatible` refuses a mismatch.
 *
 * Platform-neutral: no Node or TensorFlow.js imports.
 */
import { AdapterError, check, describeValue, isPlainObject } from '../errors.js';
import { fnv1a32 } from './hash.js';

/** Id of the padding token `<pad>`. Padding positions carry this id and are masked out of every loss. */
export const PAD_ID = 0;
/** Id of the unknown-character token `<unk>`: every character absent from the vocabulary encodes to it. */
export const UNK_ID = 1;
/** The reserved tokens, in id order: `<pad>` = 0, `<unk>` = 1. Characters start at id 2. */
export const SPECIAL_TOKENS: readonly string[] = Object.freeze(['<pad>', '<unk>']);
/** The `format` tag of {@link CharVocabJSON}. */
export const CHAR_VOCAB_FORMAT = 'adapterkit.char-vocab';
/** The current {@link CharVocabJSON} version. */
export const CHAR_VOCAB_VERSION = 1;

/** Serialised form of a {@link CharVocab}, as stored in checkpoints. `chars[k]` has id `k + specials.length`. */
export interface CharVocabJSON {
  format: typeof CHAR_VOCAB_FORMAT;
  version: typeof CHAR_VOCAB_VERSION;
  /** Always `['<pad>', '<unk>']`. */
  specials: string[];
  /** One code point per entry, in id order. */
  chars: string[];
}

/** Options of {@link CharVocab.fromText}. */
export interface CharVocabOptions {
  /**
   * Characters occurring fewer than `minCount` times in the text are left out (they then encode as `<unk>`,
   * which lets a model see `<unk>` during training). Default 1: every character that occurs is kept.
   */
  minCount?: number;
  /** Characters always included, whether or not they occur in the text (a string is split into code points). */
  extraChars?: Iterable<string>;
}

/** Options of {@link CharVocab.decode}. */
export interface DecodeOptions {
  /** What `<unk>` decodes to. Default `'\uFFFD'` (the replacement character). */
  unk?: string;
  /** What `<pad>` decodes to. Default `''` (padding is dropped). */
  pad?: string;
}

/** Code point → display string for messages: `"a"`, `"\n"`. */
const show = (ch: string): string => JSON.stringify(ch);

function isSingleCodePoint(s: unknown): s is string {
  if (typeof s !== 'string' || s.length === 0 || s.length > 2) return false;
  return String.fromCodePoint(s.codePointAt(0)!) === s;
}

/**
 * A character vocabulary. Ids: `0` = `<pad>`, `1` = `<unk>`, then one id per character, starting at 2.
 * "Character" means Unicode code point (a surrogate pair is one character).
 *
 * {@link CharVocab.fromText} sorts the distinct characters by code point, so the same text always gives the
 * same ids. `encode` does not normalise; pass text through {@link normalizeText} first (the corpus loaders
 * already do).
 *
 * @example
 * ```ts
 * const vocab = CharVocab.fromText(loadTextCorpus('mobydick').train);
 * const ids = vocab.encode('Call me Ishmael.'); // Int32Array
 * vocab.decode(ids); // 'Call me Ishmael.'
 * const restored = CharVocab.fromJSON(JSON.parse(JSON.stringify(vocab)));
 * restored.assertCompatible(vocab);
 * ```
 */
export class CharVocab {
  /** Id of `<pad>` (always {@link PAD_ID} = 0). */
  readonly padId = PAD_ID;
  /** Id of `<unk>` (always {@link UNK_ID} = 1). */
  readonly unkId = UNK_ID;
  /** The characters, in id order: `chars[k]` has id `k + 2`. */
  readonly chars: readonly string[];

  /** BMP code unit → id (UNK_ID when absent). */
  private readonly bmp: Int32Array;
  /** Astral code point → id. */
  private readonly astral = new Map<number, number>();
  private fingerprintCache: string | undefined;

  private constructor(chars: readonly string[]) {
    this.chars = Object.freeze([...chars]);
    this.bmp = new Int32Array(0x10000).fill(UNK_ID);
    const base = SPECIAL_TOKENS.length;
    chars.forEach((ch, k) => {
      const cp = ch.codePointAt(0)!;
      if (cp < 0x10000) this.bmp[cp] = k + base;
      else this.astral.set(cp, k + base);
    });
  }

  /**
   * Builds the vocabulary of a text: its distinct characters sorted by code point, after the reserved ids.
   *
   * @param text - The text (or several texts) to take characters from.
   * @param options - {@link CharVocabOptions}: `minCount` and `extraChars`.
   * @returns A new vocabulary; deterministic for a given text and options.
   * @throws AdapterError `INVALID_CONFIG` if `minCount` is not a positive integer or `extraChars` holds a
   *   string that is not a single character.
   */
  static fromText(text: string | readonly string[], options: CharVocabOptions = {}): CharVocab {
    const minCount = options.minCount ?? 1;
    check(
      Number.isInteger(minCount) && minCount >= 1,
      'INVALID_CONFIG',
      () => `CharVocab.fromText: minCount must be a positive integer, got ${describeValue(minCount)}`,
    );
    const counts = new Map<number, number>();
    for (const t of typeof text === 'string' ? [text] : text) {
      for (const ch of t) {
        const cp = ch.codePointAt(0)!;
        counts.set(cp, (counts.get(cp) ?? 0) + 1);
      }
    }
    const keep = new Set<number>();
    for (const [cp, n] of counts) if (n >= minCount) keep.add(cp);
    for (const ch of options.extraChars ?? []) {
      check(
        isSingleCodePoint(ch),
        'INVALID_CONFIG',
        () => `CharVocab.fromText: extraChars entries must be single characters, got ${describeValue(ch)}`,
      );
      keep.add(ch.codePointAt(0)!);
    }
    return new CharVocab([...keep].sort((a, b) => a - b).map((cp) => String.fromCodePoint(cp)));
  }

  /**
   * Builds a vocabulary from an explicit character list; the order is kept (`chars[k]` gets id `k + 2`).
   *
   * @param chars - Distinct single characters.
   * @returns A new vocabulary.
   * @throws AdapterError `INVALID_CONFIG` on an entry that is not a single character, or on a duplicate.
   */
  static fromChars(chars: Iterable<string>): CharVocab {
    const list = [...chars];
    const seen = new Set<string>();
    list.forEach((ch, k) => {
      check(
        isSingleCodePoint(ch),
        'INVALID_CONFIG',
        () => `CharVocab.fromChars: entry ${k} must be a single character, got ${describeValue(ch)}`,
      );
      check(
        !seen.has(ch),
        'INVALID_CONFIG',
        () => `CharVocab.fromChars: character ${show(ch)} appears twice (entry ${k})`,
      );
      seen.add(ch);
    });
    return new CharVocab(list);
  }

  /**
   * Restores a vocabulary written by {@link CharVocab.toJSON} (ids are reproduced exactly).
   *
   * @param json - The parsed JSON value.
   * @returns The vocabulary.
   * @throws AdapterError `CHECKPOINT_FORMAT` if `json` is not a valid {@link CharVocabJSON} (wrong format tag
   *   or version, different reserved tokens, non-character or duplicate entries).
   */
  static fromJSON(json: unknown): CharVocab {
    const bad = (why: string): never => {
      throw new AdapterError('CHECKPOINT_FORMAT', `CharVocab.fromJSON: ${why}`);
    };
    if (!isPlainObject(json)) return bad(`expected an object, got ${describeValue(json)}`);
    if (json.format !== CHAR_VOCAB_FORMAT)
      bad(`format ${JSON.stringify(json.format)} is not ${JSON.stringify(CHAR_VOCAB_FORMAT)}`);
    if (json.version !== CHAR_VOCAB_VERSION)
      bad(`version ${JSON.stringify(json.version)} is not supported (supported: ${CHAR_VOCAB_VERSION})`);
    const specials = json.specials;
    if (
      !Array.isArray(specials) ||
      specials.length !== SPECIAL_TOKENS.length ||
      specials.some((s, i) => s !== SPECIAL_TOKENS[i])
    )
      bad(`specials ${JSON.stringify(specials)} differ from ${JSON.stringify(SPECIAL_TOKENS)}`);
    if (!Array.isArray(json.chars)) return bad(`chars must be an array, got ${describeValue(json.chars)}`);
    const seen = new Set<string>();
    (json.chars as unknown[]).forEach((ch, k) => {
      if (!isSingleCodePoint(ch)) bad(`chars[${k}] must be a single character, got ${describeValue(ch)}`);
      if (seen.has(ch as string)) bad(`chars[${k}] ${show(ch as string)} is a duplicate`);
      seen.add(ch as string);
    });
    return new CharVocab(json.chars as string[]);
  }

  /** Number of ids, reserved ones included (the embedding/output width a model needs). */
  get size(): number {
    return SPECIAL_TOKENS.length + this.chars.length;
  }

  /**
   * @param ch - A single character.
   * @returns Whether `ch` has its own id (i.e. does not encode as `<unk>`).
   */
  has(ch: string): boolean {
    return isSingleCodePoint(ch) && this.lookup(ch.codePointAt(0)!) !== UNK_ID;
  }

  /**
   * @param ch - A single character.
   * @returns Its id, or {@link UNK_ID} if it is not in the vocabulary.
   */
  idOf(ch: string): number {
    return isSingleCodePoint(ch) ? this.lookup(ch.codePointAt(0)!) : UNK_ID;
  }

  /**
   * @param id - An id in `[0, size)`.
   * @returns The character with that id, or `'<pad>'` / `'<unk>'` for the reserved ids.
   * @throws AdapterError `INVALID_INPUT` if `id` is not an integer in `[0, size)`.
   */
  tokenOf(id: number): string {
    this.checkId(id, 'tokenOf');
    return id < SPECIAL_TOKENS.length ? SPECIAL_TOKENS[id]! : this.chars[id - SPECIAL_TOKENS.length]!;
  }

  /**
   * Encodes text, one id per code point; characters not in the vocabulary become {@link UNK_ID}.
   * Does not normalise (see {@link normalizeText}).
   *
   * @param text - The text.
   * @returns The ids (length = number of code points; equals `text.length` for text without surrogate pairs).
   */
  encode(text: string): Int32Array {
    const out = new Int32Array(text.length);
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          out[n++] = this.astral.get((c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000) ?? UNK_ID;
          i++;
          continue;
        }
      }
      out[n++] = this.bmp[c]!;
    }
    return n === out.length ? out : out.slice(0, n);
  }

  /**
   * Decodes ids back to text: `decode(encode(s)) === s` for text whose characters are all in the vocabulary.
   *
   * @param ids - Ids in `[0, size)`.
   * @param options - What `<unk>` and `<pad>` decode to ({@link DecodeOptions}).
   * @returns The text.
   * @throws AdapterError `INVALID_INPUT` on an id outside `[0, size)` or not an integer.
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const table = [options.pad ?? '', options.unk ?? '\uFFFD', ...this.chars];
    const parts: string[] = [];
    let chunk = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const s = table[id];
      if (s === undefined) this.checkId(id, `decode (position ${i})`);
      chunk += s!;
      if (chunk.length >= 8192) {
        parts.push(chunk);
        chunk = '';
      }
    }
    parts.push(chunk);
    return parts.join('');
  }

  /**
   * Counts the characters of `text` that would encode as `<unk>`.
   *
   * @param text - The text.
   * @returns Character → number of occurrences, for every character missing from the vocabulary.
   */
  unknownChars(text: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const ch of text)
      if (this.lookup(ch.codePointAt(0)!) === UNK_ID) out.set(ch, (out.get(ch) ?? 0) + 1);
    return out;
  }

  /**
   * @returns The serialisable form ({@link CharVocabJSON}); `JSON.stringify(vocab)` uses it.
   */
  toJSON(): CharVocabJSON {
    return {
      format: CHAR_VOCAB_FORMAT,
      version: CHAR_VOCAB_VERSION,
      specials: [...SPECIAL_TOKENS],
      chars: [...this.chars],
    };
  }

  /**
   * A short, stable identifier of the id assignment (FNV-1a of the character list), for logs and metadata.
   *
   * @returns 8 hex digits; equal vocabularies have equal fingerprints.
   */
  fingerprint(): string {
    this.fingerprintCache ??= fnv1a32(JSON.stringify(this.toJSON())).toString(16).padStart(8, '0');
    return this.fingerprintCache;
  }

  /**
   * @param other - Another vocabulary (or its JSON form).
   * @returns Whether both assign the same ids to the same tokens.
   */
  equals(other: CharVocab | CharVocabJSON): boolean {
    const chars = other instanceof CharVocab ? other.chars : other.chars;
    return chars.length === this.chars.length && chars.every((c, i) => c === this.chars[i]);
  }

  /**
   * Throws unless `other` assigns exactly the same ids (e.g. the vocabulary stored in a checkpoint vs the one
   * the data was encoded with). `this` is the expected vocabulary.
   *
   * @param other - The vocabulary to check (or its JSON form, which is validated first).
   * @param context - Names the two sides in the message, e.g. `'checkpoint vocabulary vs data vocabulary'`.
   * @throws AdapterError `CHECKPOINT_MISMATCH` naming both sizes and fingerprints, the first differing id and
   *   up to 10 characters missing from / extra in `other`; `CHECKPOINT_FORMAT` if `other` is invalid JSON form.
   */
  assertCompatible(other: CharVocab | CharVocabJSON, context = 'vocabulary'): void {
    const theirs = other instanceof CharVocab ? other : CharVocab.fromJSON(other);
    if (this.equals(theirs)) return;
    const mine = this.chars;
    const their = theirs.chars;
    let k = 0;
    while (k < mine.length && k < their.length && mine[k] === their[k]) k++;
    const id = k + SPECIAL_TOKENS.length;
    const at = (cs: readonly string[]) => (k < cs.length ? show(cs[k]!) : '(none)');
    const mineSet = new Set(mine);
    const theirSet = new Set(their);
    const missing = mine.filter((c) => !theirSet.has(c));
    const extra = their.filter((c) => !mineSet.has(c));
    const list = (cs: string[]) =>
      cs.length === 0
        ? 'none'
        : cs.slice(0, 10).map(show).join(' ') + (cs.length > 10 ? ` … (${cs.length})` : '');
    throw new AdapterError(
      'CHECKPOINT_MISMATCH',
      `${context} mismatch: expected ${this.size} ids (fingerprint ${this.fingerprint()}), got ${theirs.size} ` +
        `(fingerprint ${theirs.fingerprint()}); first difference at id ${id}: expected ${at(mine)}, got ` +
        `${at(their)}; missing: ${list(missing)}; extra: ${list(extra)}`,
      {
        expectedSize: this.size,
        actualSize: theirs.size,
        firstDifferentId: id,
        missing,
        extra,
      },
    );
  }

  private lookup(cp: number): number {
    return cp < 0x10000 ? this.bmp[cp]! : (this.astral.get(cp) ?? UNK_ID);
  }

  private checkId(id: number, where: string): void {
    check(
      Number.isInteger(id) && id >= 0 && id < this.size,
      'INVALID_INPUT',
      () => `CharVocab.${where}: id ${describeValue(id)} is not an integer in [0, ${this.size})`,
      () => ({ id, size: this.size }),
    );
  }
}
