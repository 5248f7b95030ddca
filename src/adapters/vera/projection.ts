/**
 * VeRA's shared frozen projections (SPEC §5.4), generated from `projectionPrngKey` exactly as PEFT
 * does: one PyTorch generator seeded with the key draws `vera_A [r, maxIn]` first, then
 * `vera_B [maxOut, r]`, each with Kaiming-uniform bounds (`a = √5` is not used: PEFT's `_kaiming_init`
 * takes gain √2, so `bound = √3 · √2 / √fanIn` with fanIn the matrix's second dimension).
 */
import { tf, type Tensor } from '../../backend/tf.js';
import { check } from '../../errors.js';
import type { SharedAdapterState } from '../tuners/registry.js';
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

/**
 * One adapter's pair of shared frozen projections as tensors (`a` `[r, maxIn]`, `b` `[maxOut, r]`),
 * read by every VeRA layer of the adapter (each slices what it needs). They are plain tensors, not
 * variables: never trained, never in a layer's state dict; the managing model owns and frees them
 * (what PEFT keeps in the tuner's `vera_A` / `vera_B` buffer dicts).
 *
 * @example
 * ```ts
 * const pair = VeraProjectionPair.generate({ key: 0, r: 256, maxIn: 768, maxOut: 768, saveProjection: true });
 * pair.a.shape; // [256, 768]
 * pair.dispose();
 * ```
 */
export class VeraProjectionPair implements SharedAdapterState {
  private aT: Tensor;
  private bT: Tensor;

  constructor(
    a: Tensor,
    b: Tensor,
    /** Whether the pair is saved with the adapter (`saveProjection`). */
    readonly saved: boolean,
  ) {
    this.aT = tf.keep(a);
    this.bT = tf.keep(b);
  }

  /** Generates the pair from `key` for rank `r` and the largest layer sizes (see {@link generateVeraProjections}). */
  static generate(o: {
    key: number | bigint;
    r: number;
    maxIn: number;
    maxOut: number;
    saveProjection: boolean;
  }): VeraProjectionPair {
    const { a, b } = generateVeraProjections(o.key, o.r, o.maxIn, o.maxOut);
    return new VeraProjectionPair(
      tf.tensor2d(a, [o.r, o.maxIn], 'float32'),
      tf.tensor2d(b, [o.maxOut, o.r], 'float32'),
      o.saveProjection,
    );
  }

  /** `vera_A` `[r, maxIn]`. */
  get a(): Tensor {
    return this.aT;
  }

  /** `vera_B` `[maxOut, r]`. */
  get b(): Tensor {
    return this.bT;
  }

  /** PEFT keys `vera_A`, `vera_B` (under `base_model.`) when saved; none otherwise. */
  peftTensors(): Array<{ peftKey: string; tensor: Tensor; assign(value: Tensor): void }> {
    if (!this.saved) return [];
    return [
      { peftKey: 'vera_A', tensor: this.aT, assign: (v) => (this.aT = this.replace(this.aT, v)) },
      { peftKey: 'vera_B', tensor: this.bT, assign: (v) => (this.bT = this.replace(this.bT, v)) },
    ];
  }

  /** A float32 copy of `value` (checked to have `old`'s shape) in place of `old`, which is freed. */
  private replace(old: Tensor, value: Tensor): Tensor {
    check(
      value.shape.length === 2 && value.shape[0] === old.shape[0] && value.shape[1] === old.shape[1],
      'STATE_DICT_MISMATCH',
      () =>
        `VeRA projection: a tensor of shape [${value.shape.join(', ')}] cannot replace [${old.shape.join(', ')}]`,
    );
    const next = tf.keep(
      tf.tidy(() => (value.dtype === 'float32' ? tf.clone(value) : tf.cast(value, 'float32'))),
    );
    old.dispose();
    return next;
  }

  dispose(): void {
    this.aT.dispose();
    this.bT.dispose();
  }
}
