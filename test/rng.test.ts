import { afterEach, describe, expect, it } from 'vitest';
import { createRng, getRng, manualSeed, normalArray, setRng, uniformArray, type Rng } from '../src/rng.js';

function draws(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.next());
}

describe('rng', () => {
  afterEach(() => manualSeed(0));

  it('createRng is mulberry32: the reference sequence for seed 42, the same for the same seed', () => {
    expect(draws(createRng(42), 3)).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
    expect(draws(createRng(7), 20)).toEqual(draws(createRng(7), 20));
    expect(draws(createRng(7), 20)).not.toEqual(draws(createRng(8), 20));
    // only the low 32 bits of the seed matter
    expect(draws(createRng(2 ** 32 + 5), 5)).toEqual(draws(createRng(5), 5));
  });

  it('draws lie in [0, 1) and spread over it', () => {
    const xs = draws(createRng(1), 10000);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
  });

  it('manualSeed re-seeds the default generator and setRng replaces it', () => {
    manualSeed(11);
    const a = draws(getRng(), 4);
    manualSeed(11);
    expect(draws(getRng(), 4)).toEqual(a);
    const mine = createRng(3);
    setRng(mine);
    expect(getRng()).toBe(mine);
    expect(draws(getRng(), 4)).toEqual(draws(createRng(3), 4));
  });

  it('uniformArray draws U(low, high) from the given generator (default: the library generator)', () => {
    const u = uniformArray(1000, -2, 3, createRng(5));
    expect(u).toBeInstanceOf(Float32Array);
    expect(u.length).toBe(1000);
    for (const x of u) {
      expect(x).toBeGreaterThanOrEqual(-2);
      expect(x).toBeLessThanOrEqual(3);
    }
    const ref = createRng(5);
    expect(u[0]).toBeCloseTo(-2 + 5 * ref.next(), 6);
    manualSeed(9);
    const fromDefault = uniformArray(8, 0, 1);
    expect(Array.from(fromDefault)).toEqual(Array.from(uniformArray(8, 0, 1, createRng(9))));
  });

  it('normalArray draws N(mean, std²), fills an odd length, and is reproducible', () => {
    const n = 20001;
    const x = normalArray(n, 3, 2, createRng(4));
    expect(x.length).toBe(n);
    expect(Number.isFinite(x[n - 1]!)).toBe(true);
    const mean = x.reduce((a, b) => a + b, 0) / n;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    expect(Math.abs(mean - 3)).toBeLessThan(0.05);
    expect(Math.abs(Math.sqrt(variance) - 2)).toBeLessThan(0.05);
    expect(Array.from(normalArray(9, 0, 1, createRng(4)))).toEqual(
      Array.from(normalArray(9, 0, 1, createRng(4))),
    );
  });
});
