/**
 * VeRA's shared frozen projections (SPEC §5.4), generated from `projectionPrngKey` exactly as PEFT
 * does: one PyTorch generator seeded with the key draws `vera_A [r, maxIn]` first, then
 * `vera_B [maxOut, r]`, each with Kaiming-uniform bounds (`a = √5` is not used: PEFT's `_kaiming_init`
 * takes gain √2, so `bound = √3 · √2 / √fanIn` with fanIn the matrix's second dimension).
 */
import { check } from '../../errors.js';
import { Mt19937, uniformFloat32 } from './torch-generator.js';

/** The generated projections, row-major. */
export interface VeraProjections {
  /** `[r, maxIn]` */
  a: Float32Array;
  /** `[maxOut, r]` */
  b: Float32Array;
}

/** The Kaiming-uniform bound PEFT's `_kaiming_init` uses for a matrix whose second dimension is `fanIn`. */
export function veraKaimingBound(fanIn: number): number {
  return (Math.sqrt(3) * Math.sqrt(2)) / Math.sqrt(fanIn);
}

/**
 * Generates `vera_A` and `vera_B` for rank `r` and the largest input / output sizes over the targeted
 * layers. The same key always gives bit-identical matrices.
 */
export function generateVeraProjections(
  key: number | bigint,
  r: number,
  maxIn: number,
  maxOut: number,
): VeraProjections {
  for (const [name, v] of [
    ['r', r],
    ['maxIn', maxIn],
    ['maxOut', maxOut],
  ] as const) {
    check(
      Number.isInteger(v) && v >= 1,
      'INVALID_CONFIG',
      () => `generateVeraProjections: ${name} must be a positive integer, got ${v}`,
    );
  }
  const gen = new Mt19937(key);
  const boundA = veraKaimingBound(maxIn);
  const a = uniformFloat32(gen, r * maxIn, -boundA, boundA);
  const boundB = veraKaimingBound(r);
  const b = uniformFloat32(gen, maxOut * r, -boundB, boundB);
  return { a, b };
}
