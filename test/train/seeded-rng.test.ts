import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/rng.js';
import { SeededRng } from '../../src/train/seeded-rng.js';
import { thrown } from '../helpers.js';

describe('SeededRng', () => {
  it('draws the same sequence as createRng for the same seed', () => {
    for (const seed of [0, 42, 2 ** 32 + 42, -1]) {
      const a = new SeededRng(seed);
      const b = createRng(seed);
      for (let i = 0; i < 50; i++) expect(a.next()).toBe(b.next());
    }
  });

  it('setState(getState()) replays the draws that followed', () => {
    const rng = new SeededRng(7);
    for (let i = 0; i < 13; i++) rng.next();
    const saved = rng.getState();
    expect(Number.isInteger(saved) && saved >= 0 && saved <= 0xffffffff).toBe(true);
    const after = [rng.next(), rng.next(), rng.next()];
    rng.setState(saved);
    expect([rng.next(), rng.next(), rng.next()]).toEqual(after);
    // the state is the whole story: a fresh generator given it continues identically
    const other = new SeededRng(999);
    other.setState(saved);
    expect([other.next(), other.next(), other.next()]).toEqual(after);
  });

  it('rejects a non-finite seed and a state that is not an unsigned 32-bit integer', () => {
    expect(thrown(() => new SeededRng(NaN)).code).toBe('INVALID_CONFIG');
    expect(thrown(() => new SeededRng(Infinity)).message).toContain('seed must be a finite number');
    const rng = new SeededRng(1);
    for (const bad of [-1, 1.5, 2 ** 32, NaN]) {
      const e = thrown(() => rng.setState(bad));
      expect(e.code).toBe('INVALID_INPUT');
      expect(e.message).toContain('unsigned 32-bit integer');
    }
    expect(rng.next()).toBe(new SeededRng(1).next()); // a refused state leaves the generator as it was
  });
});
