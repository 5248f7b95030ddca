import { beforeAll, describe, expect, it } from 'vitest';
import {
  CharVocab,
  countLmTargets,
  evalLmWindows,
  loadMobyDick,
  loadTextCorpus,
  mobyDickText,
  normalizeText,
  splitMobyDick,
  type MobyDickChapter,
} from '../../src/data/node-index.js';
import { thrown } from '../helpers.js';

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
