import { describe, expect, it } from 'vitest';
import { normalizeText } from '../../src/data/normalize.js';

describe('normalizeText', () => {
  it('leaves plain ASCII text (and the em dash) alone', () => {
    const s = 'Call me Ishmael. "Aye," he said—it\'s so.\n\nNext line: $5 & (more)!';
    expect(normalizeText(s)).toBe(s);
  });

  it('maps curly quotes, backtick and acute accent to straight quotes', () => {
    expect(normalizeText('\u2018a\u2019 \u201Cb\u201D \u201Ec\u201F `d\u00B4 \u2032 \u2033')).toBe(
      `'a' "b" "c" 'd' ' "`,
    );
  });

  it('normalises line endings, dashes, ellipsis and spaces', () => {
    expect(normalizeText('a\r\nb\rc\n')).toBe('a\nb\nc\n');
    expect(normalizeText('well\u2011being 1990\u20132000 \u22125 x\u2015y z\u2014w')).toBe(
      'well-being 1990-2000 -5 x\u2014y z\u2014w',
    );
    expect(normalizeText('wait\u2026')).toBe('wait...');
    expect(normalizeText('a\tb\u00A0c\u2003d\u3000e')).toBe('a b c d e');
  });

  it('removes control, zero-width and soft-hyphen characters but keeps newlines', () => {
    expect(normalizeText('4 1\u0002 per\u200B cent\u00AD\uFEFF\u0085\n')).toBe('4 1 per cent\n');
  });

  it('strips diacritics but keeps characters without a decomposition', () => {
    expect(normalizeText('Nicolás naïve Guaidó Œ η ח 54° •')).toBe('Nicolas naive Guaido Œ η ח 54° •');
    expect(normalizeText('e\u0301')).toBe('e'); // decomposed input
  });

  it('is idempotent', () => {
    const s = 'x\u1FFD\u2018q\u2019\r\n\u00E9\u200B\u0301 \u2026 \u2013 \u00A0\t\u0001\u1100\u200B\u1161';
    const once = normalizeText(s);
    expect(normalizeText(once)).toBe(once);
    for (const ch of ['\u2018', '\u2019', '\r', '\u0301', '\u200B', '\u00B4'])
      expect(once.includes(ch)).toBe(false);
  });
});
