import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterError } from '../../src/errors.js';
import {
  CharVocab,
  DATASET_NAMES,
  DOCUMENT_SEPARATOR,
  countLmTargets,
  evalLmWindows,
  isSotuHeldOut,
  loadDataset,
  loadMobyDick,
  loadSotu,
  loadSpamAssassin,
  loadSpamSplits,
  loadTextCorpus,
  mobyDickText,
  normalizeText,
  sotuDocument,
  splitMobyDick,
  type MobyDickChapter,
  type SotuAddress,
  type SpamSplits,
} from '../../src/data/node-index.js';

function thrown(fn: () => unknown): AdapterError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AdapterError);
    return e as AdapterError;
  }
  throw new Error('expected a throw');
}

describe('Moby-Dick', () => {
  let chapters: MobyDickChapter[];
  let full: string;
  beforeAll(() => {
    chapters = loadMobyDick();
    full = mobyDickText(chapters);
  });

  it('loads the whole book in order', () => {
    expect(chapters.length).toBe(139);
    expect(chapters.map((c) => c.chapter).slice(0, 4)).toEqual(['Contents', 'Etymology', 'Extracts', '1']);
    expect(chapters.at(-1)!.chapter).toBe('Epilogue');
    expect(chapters[3]!.text.startsWith('Call me Ishmael.')).toBe(true);
    // The normaliser is a no-op on Moby-Dick: it already uses straight quotes and no curly ones.
    const raw = chapters.map((c) => c.text).join('\n');
    expect(full).toBe(raw);
    expect(normalizeText(raw)).toBe(raw);
    expect(raw).toMatch(/"/);
    expect(raw).not.toMatch(/[\u2018\u2019\u201C\u201D]/);
  });

  it('holds out the last 5 % of characters, starting at a line start', () => {
    const { train, heldOut } = loadTextCorpus('mobydick');
    expect(train + heldOut).toBe(full);
    const target = full.length - Math.ceil(0.05 * full.length);
    expect(heldOut.length).toBeGreaterThanOrEqual(Math.ceil(0.05 * full.length));
    expect(full[train.length - 1]).toBe('\n');
    // shortest such suffix: no line start between the cut and the 5 % point
    expect(full.slice(train.length, target)).not.toContain('\n');
    expect(heldOut.endsWith('only found another orphan.\n')).toBe(true);
  });

  it('is deterministic and cached', () => {
    const a = loadTextCorpus('mobydick');
    const b = loadTextCorpus('mobydick');
    expect(a).not.toBe(b);
    expect(a).toEqual(b);
    expect(splitMobyDick(full)).toEqual({ train: a.train, heldOut: a.heldOut });
  });

  it('splitMobyDick falls back to the character count without line breaks', () => {
    expect(splitMobyDick('x'.repeat(100))).toEqual({ train: 'x'.repeat(95), heldOut: 'xxxxx' });
    const b43 = 'b'.repeat(43);
    // 5 % of 52 → 3 characters; 'ccc' starts a line and is exactly long enough
    expect(splitMobyDick(`aaaa\n${b43}\nccc`).heldOut).toBe('ccc');
    // 5 % of 51 → 3 characters; 'cc' is too short, so the held-out part starts at the previous line
    expect(splitMobyDick(`aaaa\n${b43}\ncc`).heldOut).toBe(`${b43}\ncc`);
    expect(thrown(() => splitMobyDick('abc', 1)).code).toBe('INVALID_CONFIG');
  });

  it('has a vocabulary that covers its held-out text', () => {
    const { train, heldOut } = loadTextCorpus('mobydick');
    const vocab = CharVocab.fromText(train);
    expect(vocab.size).toBe(91);
    expect(vocab.unknownChars(heldOut).size).toBe(0);
    const ids = vocab.encode(heldOut);
    let n = 0;
    for (const b of evalLmWindows(ids, 256, 8)) n += b.numTargets;
    expect(n).toBe(countLmTargets(heldOut.length));
  });
});

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

describe('loadDataset', () => {
  it('names every dataset', () => {
    expect(DATASET_NAMES).toEqual(['mobydick', 'sotu', 'spamassassin']);
    const d = loadDataset('sotu');
    expect(d.kind).toBe('text');
    expect(d.name).toBe('sotu');
  });

  it('rejects an unknown name, listing the valid ones', () => {
    const e = thrown(() => loadDataset('moby-dick'));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain('"moby-dick"');
    for (const n of DATASET_NAMES) expect(e.message).toContain(n);
    expect(e.details).toMatchObject({ name: 'moby-dick', valid: [...DATASET_NAMES] });
    const e2 = thrown(() => loadTextCorpus('spamassassin' as never));
    expect(e2.code).toBe('INVALID_CONFIG');
    expect(e2.message).toContain('mobydick, sotu');
    expect(e2.message).toContain('loadSpamSplits');
  });
});

describe('SpamAssassin', () => {
  let splits: SpamSplits;
  beforeAll(() => {
    splits = loadSpamSplits();
  });

  it('splits all 6046 messages into disjoint train and test sets', () => {
    const { train, test, counts } = splits;
    expect(train.length + test.length).toBe(6046);
    expect(counts.train.spam + counts.test.spam).toBe(1896);
    expect(counts.train.ham + counts.test.ham).toBe(4150);
    expect(counts.train.total).toBe(train.length);
    expect(counts.test.spam).toBe(test.filter((x) => x.label === 1).length);
    const trainIds = new Set(train.map((x) => x.id));
    expect(trainIds.size).toBe(train.length);
    expect(test.some((x) => trainIds.has(x.id))).toBe(false);
    expect(test.length / 6046).toBeGreaterThan(0.15);
    expect(test.length / 6046).toBeLessThan(0.25);
    for (const x of [...train, ...test]) {
      expect(x.label).toBe(x.id.startsWith('spam') ? 1 : 0);
      expect(x.text.length).toBeLessThanOrEqual(2000);
    }
    expect(counts).toEqual({
      train: { spam: 1542, ham: 3366, total: 4908 },
      test: { spam: 354, ham: 784, total: 1138 },
    });
  });

  it('is deterministic and independent of the loading options', () => {
    const testIds = new Set(splits.test.map((x) => x.id));
    const again = loadSpamSplits({ groups: ['spam-1', 'hard-ham-1'], maxChars: 50, part: 'body' });
    expect(again.train.length + again.test.length).toBe(750);
    for (const x of again.test) expect(testIds.has(x.id)).toBe(true);
    for (const x of again.train) expect(testIds.has(x.id)).toBe(false);
    for (const x of [...again.train, ...again.test]) expect(x.text.length).toBeLessThanOrEqual(50);
  });

  it('keeps messages with identical bodies on the same side', () => {
    const msgs = loadSpamAssassin({ groups: ['spam-2'], maxChars: 1 });
    const testIds = new Set(splits.test.map((x) => x.id));
    const sideOf = new Map<number, boolean>();
    for (const m of msgs) {
      const side = testIds.has(m.id);
      if (sideOf.has(m.bodyHash)) expect(sideOf.get(m.bodyHash)).toBe(side);
      sideOf.set(m.bodyHash, side);
    }
    expect(sideOf.size).toBeLessThan(msgs.length); // spam-2 does contain duplicates
  });

  it('rejects bad options, naming the valid choices', () => {
    const e = thrown(() => loadSpamAssassin({ groups: ['spam-3' as never] }));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain('easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2');
    expect(thrown(() => loadSpamAssassin({ part: 'headers' as never })).message).toContain(
      'subject+body, body, full',
    );
    expect(thrown(() => loadSpamAssassin({ maxChars: 0 })).code).toBe('INVALID_CONFIG');
    expect(thrown(() => loadSpamSplits({ testFraction: 1 })).code).toBe('INVALID_CONFIG');
  });
});
