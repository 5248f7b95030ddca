/**
 * A seeded generator whose state can be saved and restored, so a resumed training run draws exactly the
 * numbers (dropout masks, stochastic-depth draws, shuffles) the uninterrupted run would have drawn.
 */
import { check } from '../errors.js';
import type { Rng } from '../rng.js';

/**
 * mulberry32, the same generator as `createRng(seed)` in `src/rng.ts` (same seed, same sequence), with its
 * 32-bit state exposed through {@link SeededRng.getState} / {@link SeededRng.setState}.
 *
 * @example
 * ```ts
 * const rng = new SeededRng(42);
 * setRng(rng);                 // library-wide draws now come from rng
 * const saved = rng.getState();
 * const a = rng.next();
 * rng.setState(saved);
 * rng.next() === a;            // true
 * ```
 */
export class SeededRng implements Rng {
  private state: number;

  /** @param seed any number; only its low 32 bits matter (as `createRng`). */
  constructor(seed: number) {
    check(
      Number.isFinite(seed),
      'INVALID_CONFIG',
      () => `SeededRng: seed must be a finite number, got ${seed}`,
    );
    this.state = seed >>> 0;
  }

  /** A uniform draw in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** The generator's whole state: an unsigned 32-bit integer. */
  getState(): number {
    return this.state;
  }

  /** Restores a state returned by {@link SeededRng.getState}. */
  setState(state: number): void {
    check(
      Number.isInteger(state) && state >= 0 && state <= 0xffffffff,
      'INVALID_INPUT',
      () => `SeededRng.setState: state must be an unsigned 32-bit integer, got ${state}`,
    );
    this.state = state;
  }
}
