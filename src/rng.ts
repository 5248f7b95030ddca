/**
 * Seeded randomness. Every random draw in the library (initialisation, dropout, stochastic depth)
 * comes from an {@link Rng}, so a seed reproduces weights and draws on every backend.
 */

/** Uniform draws in [0, 1). */
export interface Rng {
  next(): number;
}

/** mulberry32: a small, fast 32-bit generator with a full 2^32 period; good enough for init and dropout. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return {
    next(): number {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

let defaultRng: Rng = createRng(0);

/** Replaces the library-wide default generator (e.g. `setRng(createRng(42))`). */
export function setRng(rng: Rng): void {
  defaultRng = rng;
}

/** Re-seeds the library-wide default generator. */
export function manualSeed(seed: number): void {
  defaultRng = createRng(seed);
}

/** The library-wide default generator. */
export function getRng(): Rng {
  return defaultRng;
}

/** `n` draws from U(low, high) as a Float32Array. */
export function uniformArray(n: number, low: number, high: number, rng: Rng = defaultRng): Float32Array {
  const out = new Float32Array(n);
  const span = high - low;
  for (let i = 0; i < n; i++) out[i] = low + span * rng.next();
  return out;
}

/** `n` draws from N(mean, std²) (Box–Muller) as a Float32Array. */
export function normalArray(n: number, mean = 0, std = 1, rng: Rng = defaultRng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - rng.next(); // (0, 1]: log is finite
    const u2 = rng.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = mean + std * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}
