import { describe, expect, it } from 'vitest';
import { fnv1a32 } from '../../src/data/hash.js';

describe('fnv1a32', () => {
  it('matches the published 32-bit FNV-1a test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('is an unsigned 32-bit integer that depends on every character and their order', () => {
    for (const s of ['', 'x', 'spam', 'Call me Ishmael.', 'é\u{1F600}'.repeat(50)]) {
      const h = fnv1a32(s);
      expect(Number.isInteger(h)).toBe(true);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThanOrEqual(0xffffffff);
    }
    expect(fnv1a32('ab')).not.toBe(fnv1a32('ba'));
    expect(fnv1a32('body\n')).not.toBe(fnv1a32('body'));
  });
});
