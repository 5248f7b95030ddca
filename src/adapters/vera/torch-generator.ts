/**
 * PyTorch's CPU random generator, reproduced exactly for the draws VeRA needs: MT19937 seeded as
 * `torch.Generator().manual_seed(key)` seeds it, and `Tensor.uniform_` for float32 tensors. PEFT
 * generates VeRA's shared projections from `projection_prng_key` this way, so a directory saved with
 * `save_projection: false` can be loaded only by a generator that draws the same numbers.
 */

import { check } from '../../errors.js';

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

/** The Mersenne Twister MT19937 (32-bit outputs), with PyTorch's seeding of the key's low 32 bits. */
export class Mt19937 {
  private readonly state = new Uint32Array(N);
  private index = N;

  constructor(seed: number | bigint) {
    check(
      typeof seed === 'bigint' || Number.isSafeInteger(seed),
      'INVALID_CONFIG',
      () => `the generator seed must be an integer, got ${String(seed)}`,
    );
    // The low 32 bits, as PyTorch's `manual_seed` keeps them (exact for any safe integer or bigint).
    this.state[0] = Number(BigInt(seed) & 0xffffffffn);
    for (let i = 1; i < N; i++) {
      const prev = this.state[i - 1]!;
      // 1812433253 · (prev ⊕ (prev >> 30)) + i, mod 2³²; Math.imul keeps the product in 32 bits.
      this.state[i] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + i) >>> 0;
    }
  }

  /** The next 32-bit output, as an unsigned integer. */
  nextUint32(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++]!;
    y ^= y >>> 11;
    y = (y ^ ((y << 7) & 0x9d2c5680)) >>> 0;
    y = (y ^ ((y << 15) & 0xefc60000)) >>> 0;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const st = this.state;
    for (let i = 0; i < N; i++) {
      const y = (st[i]! & UPPER_MASK) | (st[(i + 1) % N]! & LOWER_MASK);
      st[i] = (st[(i + M) % N]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)) >>> 0;
    }
    this.index = 0;
  }
}

/**
 * Fills a new float32 array of `count` values as `torch.empty(count).uniform_(lo, hi, generator=g)`
 * does on the CPU: each value takes one 32-bit output `u` and is `(u & 0xFFFFFF) · 2⁻²⁴ · (hi − lo) + lo`
 * in float64 with `lo`, `hi` first rounded to float32, then rounded to float32.
 */
export function uniformFloat32(gen: Mt19937, count: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(count);
  const from = Math.fround(lo);
  const to = Math.fround(hi);
  for (let i = 0; i < count; i++) {
    const u = gen.nextUint32();
    out[i] = (u & 0xffffff) * 2 ** -24 * (to - from) + from;
  }
  return out;
}
