/**
 * Bit-exact conversions between float32 and the two 16-bit float formats checkpoints use (SPEC §2.1 "Dtypes"):
 * IEEE 754 binary16 (`F16`) and bfloat16 (`BF16`, the upper half of a binary32).
 *
 * Widening (16 → 32 bits) is exact for every bit pattern, including subnormals, ±0, ±∞ and NaN payloads.
 * Narrowing (32 → 16 bits) rounds to nearest, ties to even; values beyond the largest finite 16-bit value
 * round to ±∞ and NaN stays NaN (sign and leading payload bits kept, quiet bit set).
 *
 * This module is a leaf: it knows nothing about files or TensorFlow.js.
 */

const F16_QUIET_NAN = 0x0200;
const BF16_QUIET_NAN = 0x0040;

/**
 * Widens one binary16 bit pattern to the bits of the float32 with exactly the same value.
 *
 * @param h - 16-bit pattern (only the low 16 bits are used).
 * @returns The float32 bit pattern as an unsigned 32-bit integer.
 * @example
 * ```ts
 * float16BitsToFloat32Bits(0x3c00); // 0x3f800000 (1.0)
 * ```
 */
export function float16BitsToFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >>> 10) & 0x1f;
  let mantissa = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0; // ±∞, NaN with its payload
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0; // ±0
  // Subnormal: value = mantissa · 2^-24. Shift the leading 1 into the implicit position.
  let e = 113;
  while ((mantissa & 0x400) === 0) {
    mantissa <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mantissa & 0x3ff) << 13)) >>> 0;
}

/**
 * Narrows float32 bits to binary16 bits, rounding to nearest with ties to even.
 *
 * @param x - float32 bit pattern (as read through a `Uint32Array`).
 * @returns The binary16 bit pattern (0 … 0xffff).
 * @example
 * ```ts
 * float32BitsToFloat16Bits(0x3f800000); // 0x3c00 (1.0)
 * float32BitsToFloat16Bits(0x477ff000); // 0x7c00: 65520 rounds up to +∞
 * ```
 */
export function float32BitsToFloat16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : F16_QUIET_NAN | (mantissa >>> 13));
  const e = exponent - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00; // |x| ≥ 65536: overflow
  if (e <= 0) return sign | subnormalFloat16(mantissa | 0x800000, 14 - e);
  // Normal. A carry out of the mantissa correctly bumps the exponent (and 65520 … 65535 become ∞).
  return sign | roundShiftRightEven((e << 23) | mantissa, 13);
}

/** Binary16 subnormal (or zero, or the smallest normal after rounding) from a 24-bit significand. */
function subnormalFloat16(significand: number, shift: number): number {
  return shift > 24 ? 0 : roundShiftRightEven(significand, shift);
}

/** `value / 2^shift` rounded to nearest, ties to even (`1 ≤ shift ≤ 24`, `value < 2^31`). */
function roundShiftRightEven(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/**
 * Widens one bfloat16 bit pattern to float32 bits: the 16 bits become the high half. Exact.
 *
 * @param b - 16-bit pattern (only the low 16 bits are used).
 * @returns The float32 bit pattern as an unsigned 32-bit integer.
 */
export function bfloat16BitsToFloat32Bits(b: number): number {
  return ((b & 0xffff) << 16) >>> 0;
}

/**
 * Narrows float32 bits to bfloat16 bits, rounding to nearest with ties to even.
 *
 * @param x - float32 bit pattern (as read through a `Uint32Array`).
 * @returns The bfloat16 bit pattern (0 … 0xffff).
 * @example
 * ```ts
 * float32BitsToBfloat16Bits(0x3f808000); // 0x3f80: a tie rounds to the even mantissa
 * ```
 */
export function float32BitsToBfloat16Bits(x: number): number {
  const u = x >>> 0;
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | BF16_QUIET_NAN;
  // Add just under half an ulp (plus one when the kept part is odd), then truncate. The sum stays below 2^32
  // for every non-NaN u, and a carry into the exponent correctly rounds the largest finite values up to ±∞.
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
}

/**
 * Decodes little-endian binary16 bytes into float32 values (exact).
 *
 * @param bytes - `2·n` bytes.
 * @returns `n` float32 values.
 */
export function decodeFloat16(bytes: Uint8Array): Float32Array {
  return widen16(bytes, float16BitsToFloat32Bits);
}

/**
 * Decodes little-endian bfloat16 bytes into float32 values (exact).
 *
 * @param bytes - `2·n` bytes.
 * @returns `n` float32 values.
 */
export function decodeBfloat16(bytes: Uint8Array): Float32Array {
  return widen16(bytes, bfloat16BitsToFloat32Bits);
}

function widen16(bytes: Uint8Array, widen: (bits: number) => number): Float32Array {
  const out = new Float32Array(bytes.length >>> 1);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < out.length; i++) bits[i] = widen(bytes[2 * i]! | (bytes[2 * i + 1]! << 8));
  return out;
}

/**
 * Encodes float32 values as little-endian binary16 bytes (round to nearest even).
 *
 * @param values - float32 values.
 * @returns `2·n` bytes.
 */
export function encodeFloat16(values: Float32Array): Uint8Array {
  return narrow16(values, float32BitsToFloat16Bits);
}

/**
 * Encodes float32 values as little-endian bfloat16 bytes (round to nearest even).
 *
 * @param values - float32 values.
 * @returns `2·n` bytes.
 */
export function encodeBfloat16(values: Float32Array): Uint8Array {
  return narrow16(values, float32BitsToBfloat16Bits);
}

function narrow16(values: Float32Array, narrow: (bits: number) => number): Uint8Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint8Array(2 * values.length);
  for (let i = 0; i < bits.length; i++) {
    const h = narrow(bits[i]!);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}
