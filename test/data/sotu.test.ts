import { beforeAll, describe, expect, it } from 'vitest';
import {
  CharVocab,
  DOCUMENT_SEPARATOR,
  isSotuHeldOut,
  loadSotu,
  loadTextCorpus,
  normalizeText,
  sotuDocument,
  type SotuAddress,
} from '../../src/data/node-index.js';

describe('State of the Union', () => {
  let addresses: SotuAddress[];
  beforeAll(() => {
    addresses = loadSotu();
  });

  it('orders the addresses chronologically', () => {
    expect(addresses.length).toBe(233);
    addresses.forEach((a, i) => {
      expect(a.index).toBe(i);
      if (i > 0) expect(a.year).toBeGreaterThanOrEqual(addresses[i - 1]!.year);
    });
    const y1953 = addresses.filter((a) => a.year === 1953).map((a) => a.name);
    const y1961 = addresses.filter((a) => a.year === 1961).map((a) => a.name);
    expect(y1953).toEqual(['Harry S Truman', 'Dwight D Eisenhower']);
    expect(y1961).toEqual(['Dwight D Eisenhower', 'John F Kennedy']);
    expect(addresses[0]!.year).toBe(1790);
  });

  it('holds out exactly the addresses with index % 10 === 9', () => {
    const { train, heldOut } = loadTextCorpus('sotu');
    const held = addresses.filter((a) => a.index % 10 === 9);
    const kept = addresses.filter((a) => a.index % 10 !== 9);
    expect(held.length).toBe(23);
    expect(held.every((a) => isSotuHeldOut(a.index))).toBe(true);
    expect(kept.some((a) => isSotuHeldOut(a.index))).toBe(false);
    expect(heldOut).toBe(held.map(sotuDocument).join(DOCUMENT_SEPARATOR));
    expect(train).toBe(kept.map(sotuDocument).join(DOCUMENT_SEPARATOR));
    // disjoint: no held-out address appears in the training text
    for (const a of held) expect(train.includes(sotuDocument(a).slice(0, 2000))).toBe(false);
    // 233 documents; each side has one separator fewer than documents
    expect(train.length + heldOut.length + 2 * DOCUMENT_SEPARATOR.length).toBe(
      addresses.reduce((n, a) => n + sotuDocument(a).length + DOCUMENT_SEPARATOR.length, 0),
    );
  });

  it('is normalised to the Moby-Dick conventions', () => {
    const { train, heldOut } = loadTextCorpus('sotu');
    for (const t of [train, heldOut]) {
      for (const ch of ['\u2018', '\u2019', '\u201C', '\u201D', '\u2013', '\u2011', '`', '\u0002', '\r'])
        expect(t.includes(ch)).toBe(false);
      expect(normalizeText(t)).toBe(t);
    }
    const vocab = CharVocab.fromText(loadTextCorpus('mobydick').train);
    const unknown = vocab.unknownChars(train + heldOut);
    expect([...unknown.keys()].sort()).toEqual(['%', '+', '/', '@', '_', '°', '•']);
  });
});
