import { beforeAll, describe, expect, it } from 'vitest';
import { loadSpamAssassin, loadSpamSplits, type SpamSplits } from '../../src/data/node-index.js';
import { thrown } from '../helpers.js';

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
