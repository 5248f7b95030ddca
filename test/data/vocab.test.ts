import { describe, expect, it } from 'vitest';
import { AdapterError } from '../../src/errors.js';
import { CharVocab, PAD_ID, SPECIAL_TOKENS, UNK_ID, type CharVocabJSON } from '../../src/data/vocab.js';

function thrown(fn: () => unknown): AdapterError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AdapterError);
    return e as AdapterError;
  }
  throw new Error('expected a throw');
}

describe('CharVocab', () => {
  it('reserves <pad>=0 and <unk>=1 and sorts characters by code point', () => {
    const v = CharVocab.fromText('hello, world\n');
    expect(PAD_ID).toBe(0);
    expect(UNK_ID).toBe(1);
    expect(v.padId).toBe(0);
    expect(v.unkId).toBe(1);
    expect(SPECIAL_TOKENS).toEqual(['<pad>', '<unk>']);
    expect(v.chars).toEqual(['\n', ' ', ',', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
    expect(v.size).toBe(12);
    expect(v.idOf('\n')).toBe(2);
    expect(v.tokenOf(0)).toBe('<pad>');
    expect(v.tokenOf(1)).toBe('<unk>');
    expect(v.tokenOf(2)).toBe('\n');
  });

  it('is deterministic: depends only on the set of characters', () => {
    const a = CharVocab.fromText('abcabc zyx');
    const b = CharVocab.fromText(['x', 'yz', ' cba']);
    expect(a.equals(b)).toBe(true);
    expect(a.fingerprint()).toBe(b.fingerprint());
  });

  it('round-trips text through encode/decode', () => {
    const text = 'Call me Ishmael.\n"Aye!"—said he.';
    const v = CharVocab.fromText(text);
    const ids = v.encode(text);
    expect(ids).toBeInstanceOf(Int32Array);
    expect(ids.length).toBe(text.length);
    expect(Math.min(...ids)).toBeGreaterThanOrEqual(2);
    expect(v.decode(ids)).toBe(text);
    expect(v.decode(Array.from(ids))).toBe(text);
  });

  it('maps unknown characters to the unk id', () => {
    const v = CharVocab.fromText('abc');
    const ids = v.encode('a%b°');
    expect(Array.from(ids)).toEqual([v.idOf('a'), UNK_ID, v.idOf('b'), UNK_ID]);
    expect(v.idOf('%')).toBe(UNK_ID);
    expect(v.has('%')).toBe(false);
    expect(v.has('a')).toBe(true);
    expect(v.decode(ids)).toBe('a\uFFFDb\uFFFD');
    expect(v.decode(ids, { unk: '?' })).toBe('a?b?');
    expect(v.decode([PAD_ID, v.idOf('c'), PAD_ID])).toBe('c');
    expect(v.decode([PAD_ID], { pad: '_' })).toBe('_');
    expect(v.unknownChars('a%%b°')).toEqual(
      new Map([
        ['%', 2],
        ['°', 1],
      ]),
    );
  });

  it('treats a surrogate pair as one character', () => {
    const text = 'a😀b';
    const v = CharVocab.fromText(text);
    expect(v.chars).toEqual(['a', 'b', '😀']);
    const ids = v.encode(text);
    expect(ids.length).toBe(3);
    expect(v.decode(ids)).toBe(text);
    expect(Array.from(CharVocab.fromText('ab').encode(text))).toEqual([2, UNK_ID, 3]);
  });

  it('supports minCount and extraChars', () => {
    const v = CharVocab.fromText('aaab', { minCount: 2, extraChars: '%+' });
    expect(v.chars).toEqual(['%', '+', 'a']);
    expect(v.idOf('b')).toBe(UNK_ID);
    expect(thrown(() => CharVocab.fromText('a', { minCount: 0 })).code).toBe('INVALID_CONFIG');
    expect(thrown(() => CharVocab.fromText('a', { extraChars: ['ab'] })).code).toBe('INVALID_CONFIG');
  });

  it('serialises with toJSON and restores with fromJSON', () => {
    const v = CharVocab.fromText('the whale\n"—');
    const json = JSON.parse(JSON.stringify(v)) as CharVocabJSON;
    expect(json).toEqual({
      format: 'adapterkit.char-vocab',
      version: 1,
      specials: ['<pad>', '<unk>'],
      chars: [...v.chars],
    });
    const w = CharVocab.fromJSON(json);
    expect(w.equals(v)).toBe(true);
    expect(w.size).toBe(v.size);
    expect(Array.from(w.encode('the whale'))).toEqual(Array.from(v.encode('the whale')));
    // fromChars keeps an explicit order
    const custom = CharVocab.fromChars(['z', 'a']);
    expect(CharVocab.fromJSON(custom.toJSON()).idOf('z')).toBe(2);
  });

  it('rejects malformed JSON with CHECKPOINT_FORMAT', () => {
    const good = CharVocab.fromText('ab').toJSON();
    const cases: unknown[] = [
      null,
      [],
      { ...good, format: 'other' },
      { ...good, version: 2 },
      { ...good, specials: ['<unk>', '<pad>'] },
      { ...good, chars: 'ab' },
      { ...good, chars: ['a', 'a'] },
      { ...good, chars: ['ab'] },
    ];
    for (const c of cases) expect(thrown(() => CharVocab.fromJSON(c)).code).toBe('CHECKPOINT_FORMAT');
    expect(thrown(() => CharVocab.fromChars(['a', 'a'])).code).toBe('INVALID_CONFIG');
  });

  it('assertCompatible passes on equal vocabularies and explains a mismatch', () => {
    const a = CharVocab.fromText('abcd');
    expect(() => a.assertCompatible(CharVocab.fromText('dcba'))).not.toThrow();
    expect(() => a.assertCompatible(a.toJSON())).not.toThrow();
    const e = thrown(() => a.assertCompatible(CharVocab.fromText('abd%'), 'checkpoint vocabulary vs data'));
    expect(e.code).toBe('CHECKPOINT_MISMATCH');
    expect(e.message).toContain('checkpoint vocabulary vs data mismatch');
    expect(e.message).toContain('missing: "c"');
    expect(e.message).toContain('extra: "%"');
    expect(e.message).toContain('first difference at id 2');
    expect(e.details).toMatchObject({ missing: ['c'], extra: ['%'] });
    // same characters, different ids
    const e2 = thrown(() =>
      CharVocab.fromChars(['a', 'b']).assertCompatible(CharVocab.fromChars(['b', 'a'])),
    );
    expect(e2.code).toBe('CHECKPOINT_MISMATCH');
    expect(e2.message).toContain('first difference at id 2: expected "a", got "b"');
  });

  it('rejects out-of-range ids', () => {
    const v = CharVocab.fromText('ab');
    expect(thrown(() => v.decode([4])).code).toBe('INVALID_INPUT');
    expect(thrown(() => v.decode([-1])).code).toBe('INVALID_INPUT');
    expect(thrown(() => v.decode([1.5])).code).toBe('INVALID_INPUT');
    expect(thrown(() => v.tokenOf(4)).message).toContain('[0, 4)');
  });
});
