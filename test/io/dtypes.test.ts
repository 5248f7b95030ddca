/**
 * float32 ↔ float16 / bfloat16 bit conversions (the narrowing a safetensors writer does); the widening
 * of whole F16/BF16 tensors is tested through the reader in test/io/safetensors.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/rng.js';
import {
  float16BitsToFloat32Bits,
  float32BitsToBfloat16Bits,
  float32BitsToFloat16Bits,
} from '../../src/io/dtypes.js';

const f32FromBits = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0]!;
const f32Bits = (value: number) => new Uint32Array(new Float32Array([value]).buffer)[0]!;

describe('B-242 float16 / bfloat16 narrowing', () => {
  it('B-242 F32 → F16 rounds to nearest even, overflows to ±∞ and keeps NaN', () => {
    const table = finiteFloat16Values();
    for (let h = 0; h < 0x7c00; h++) expect(float32BitsToFloat16Bits(f32Bits(f16Value(h)))).toBe(h); // exact values survive
    const specials: [number, number][] = [
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00], // halfway to the next (non-existent) value: ties to even = ∞
      [1e10, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal: even is 0
      [2 ** -25 * 1.5, 0x0001],
      [-(2 ** -26), 0x8000],
      [1 + 2 ** -11, 0x3c00], // tie: to even (1.0)
      [1 + 3 * 2 ** -11, 0x3c02], // tie: to even (1 + 2^-9)
      [2 ** -14 - 2 ** -25, 0x0400], // largest subnormal + half ulp: ties to the even smallest normal
    ];
    for (const [value, bits] of specials) expect(float32BitsToFloat16Bits(f32Bits(value))).toBe(bits);
    for (const nanBits of [0x7fc00000, 0xffc00001, 0x7f800001, 0x7fbfffff]) {
      const h = float32BitsToFloat16Bits(nanBits);
      expect((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0).toBe(true);
      expect(h >>> 15).toBe(nanBits >>> 31);
    }
    const rng = createRng(240);
    for (let i = 0; i < 100_000; i++) {
      const x = Math.fround((rng.next() * 2 - 1) * 2 ** (Math.floor(rng.next() * 44) - 26));
      const got = f16Value(float32BitsToFloat16Bits(f32Bits(x)));
      const want = nearestEven(x, table);
      if (!Object.is(got, want)) expect.fail(`${x}: got ${got}, want ${want}`);
    }
  });

  it('B-242 F32 → BF16 rounds to nearest even, overflows to ±∞ and keeps NaN', () => {
    const specials: [number, number][] = [
      [f32FromBits(0x3f808000), 0x3f80], // tie: to even
      [f32FromBits(0x3f818000), 0x3f82], // tie: to even (up)
      [f32FromBits(0x3f808001), 0x3f81],
      [f32FromBits(0x7f7fffff), 0x7f80], // largest float32 rounds up to +∞
      [f32FromBits(0xff7f7fff), 0xff7f],
      [-0, 0x8000],
      [Infinity, 0x7f80],
    ];
    for (const [value, bits] of specials) expect(float32BitsToBfloat16Bits(f32Bits(value))).toBe(bits);
    for (const nanBits of [0x7fc00000, 0xffc00001, 0x7f800001, 0x7f80ffff]) {
      const b = float32BitsToBfloat16Bits(nanBits);
      expect(Number.isNaN(f32FromBits(b << 16))).toBe(true);
      expect(b >>> 15).toBe(nanBits >>> 31);
    }
    const rng = createRng(241);
    for (let i = 0; i < 100_000; i++) {
      const x = Math.floor(rng.next() * 2 ** 32);
      if (((x >>> 23) & 0xff) === 0xff) continue; // NaN and ±∞ are covered above
      const top = x >>> 16;
      const v = f32FromBits(x);
      const lo = f32FromBits(top << 16);
      // the next bfloat16 up in magnitude; past the largest finite one it is 2^128, which rounds to ∞
      const hi = (top + 1) % 0x8000 === 0x7f80 ? Math.sign(v) * 2 ** 128 : f32FromBits((top + 1) << 16);
      const dLo = Math.abs(v - lo);
      const dHi = Math.abs(v - hi);
      const pick = dLo < dHi || (dLo === dHi && (top & 1) === 0) ? lo : hi;
      const want = Math.abs(pick) === 2 ** 128 ? Math.sign(pick) * Infinity : pick;
      const got = f32FromBits(float32BitsToBfloat16Bits(x) << 16);
      if (!Object.is(got, want)) expect.fail(`0x${x.toString(16)}: got ${got}, want ${want}`);
    }
  });
});

/** Value of a binary16 bit pattern. */
function f16Value(h: number): number {
  return f32FromBits(float16BitsToFloat32Bits(h));
}

/** Every finite non-negative binary16 value, ascending, with its bit pattern. */
function finiteFloat16Values(): { value: number; bits: number }[] {
  return Array.from({ length: 0x7c00 }, (_, bits) => ({ value: f16Value(bits), bits }));
}

/** Reference nearest-even binary16 rounding by search over the table (values beyond 65520 round to ∞). */
function nearestEven(x: number, table: { value: number; bits: number }[]): number {
  const a = Math.abs(x);
  const sign = x < 0 || Object.is(x, -0) ? -1 : 1;
  if (a >= 65520) return sign * Infinity;
  let lo = 0;
  let hi = table.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (table[mid]!.value <= a) lo = mid;
    else hi = mid;
  }
  const below = table[lo]!;
  const above = table[hi]!;
  const dBelow = a - below.value;
  const dAbove = above.value - a;
  const pick = dBelow < dAbove || (dBelow === dAbove && (below.bits & 1) === 0) ? below : above;
  return sign * pick.value;
}
