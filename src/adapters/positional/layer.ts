/**
 * Sinusoidal positional-encoding adapters (SPEC §2.9.4): what NeMo calls `PositionalEncodingAdapter`
 * and `RelPositionalEncodingAdapter`. They hold no parameters; the table `pe` is a non-persistent
 * buffer (never in state dicts), grown on demand.
 */
import { tf, type Tensor } from '../../backend/tf.js';
import { AdapterError, check, describeValue } from '../../errors.js';
import { fmtShape } from '../../nn/module.js';
import { AdapterModule, type AdapterModuleOptions } from '../adapter-module.js';
import { parseAdapterOptions } from '../config-schema.js';
import type { StrategyConfig } from '../types.js';
import {
  POSITIONAL_DEFAULT_STRATEGY,
  positionalEncodingAdapterSchema,
  type PositionalEncodingAdapterFields,
} from './config.js';

/**
 * Sinusoid rows for positions `first, first + step, …` (`rows` of them): for `j = 0 … dModel/2 − 1`,
 * `f_j = exp(2j·(−ln 10000/dModel))`, `row[2j] = sin(pos·f_j)`, `row[2j+1] = cos(pos·f_j)`.
 * Computed in float64 and rounded once to float32 (within 1e-12 of the exact value before rounding).
 *
 * NeMo note: NeMo computes the table in float32 (`positions * div_term` rounded before `sin`), which
 * drifts by up to ~1e-4 at positions in the thousands; here each entry is the float32 rounding of the
 * exact value.
 *
 * @returns `rows · dModel` values, row-major.
 */
export function sinusoidTable(first: number, rows: number, step: number, dModel: number): Float32Array {
  const half = dModel / 2;
  const freq = new Float64Array(half);
  const k = -Math.log(10000) / dModel;
  for (let j = 0; j < half; j++) freq[j] = Math.exp(2 * j * k);
  // Consecutive rows differ by `step` positions, so row r+1 is row r rotated by step·f_j (angle
  // addition, in float64); every RESYNC rows the angles are evaluated directly, which bounds the
  // accumulated error far below float32 resolution and makes construction ~10× cheaper than
  // calling sin/cos for every entry.
  const rotCos = new Float64Array(half);
  const rotSin = new Float64Array(half);
  for (let j = 0; j < half; j++) {
    rotCos[j] = Math.cos(step * freq[j]!);
    rotSin[j] = Math.sin(step * freq[j]!);
  }
  const sin = new Float64Array(half);
  const cos = new Float64Array(half);
  const out = new Float32Array(rows * dModel);
  for (let r = 0; r < rows; r++) {
    const base = r * dModel;
    if (r % RESYNC === 0) {
      const pos = first + r * step;
      for (let j = 0; j < half; j++) {
        const a = pos * freq[j]!;
        sin[j] = Math.sin(a);
        cos[j] = Math.cos(a);
      }
    } else {
      for (let j = 0; j < half; j++) {
        const s = sin[j]!;
        const c = cos[j]!;
        sin[j] = s * rotCos[j]! + c * rotSin[j]!;
        cos[j] = c * rotCos[j]! - s * rotSin[j]!;
      }
    }
    for (let j = 0; j < half; j++) {
      out[base + 2 * j] = sin[j]!;
      out[base + 2 * j + 1] = cos[j]!;
    }
  }
  return out;
}

/** Rows between direct evaluations in {@link sinusoidTable}. */
const RESYNC = 32;

/** Options of the positional-encoding adapters. */
/**
 * Constructor options: the positional-encoding config's fields (see {@link positionalEncodingAdapterSchema}),
 * the strategy and the random source.
 */
export type PositionalEncodingAdapterOptions = AdapterModuleOptions & PositionalEncodingAdapterFields;

/**
 * Absolute sinusoidal positions (what NeMo calls `PositionalEncodingAdapter`, config type
 * `positionalEncoding`). Default strategy `returnResult`, so the host gets the pair back.
 *
 * `forward(x [B, T, dModel])` returns `[x·xscale + pe[0:T], pe[0:T]]`, the table slice shaped
 * `[1, T, dModel]`. A `T` beyond the table grows it first.
 *
 * State keys: none. Buffer `pe [1, L, dModel]` (non-persistent), rows for positions `0 … L−1`.
 *
 * @example
 * ```ts
 * const pe = new PositionalEncodingAdapter({ dModel: 64 });
 * const [y, posEmb] = pe.forward(x);
 * ```
 */
export class PositionalEncodingAdapter extends AdapterModule {
  static override readonly typeName: string = 'PositionalEncodingAdapter';
  static override readonly defaultStrategy: StrategyConfig = { ...POSITIONAL_DEFAULT_STRATEGY };

  readonly dModel: number;
  /** The table length requested at construction. */
  readonly maxLen: number;
  /** Input scale, or null for none (0 is stored as null). */
  readonly xscale: number | null;
  /** Current table length L (number of positions covered on each side for the relative variant). */
  protected tableLength: number;

  constructor(options: PositionalEncodingAdapterOptions) {
    super(options);
    const { adapterStrategy } = options;
    const cfg = parseAdapterOptions(
      positionalEncodingAdapterSchema,
      'positionalEncoding',
      options,
      this.typeName,
    );
    const dModel = cfg.dModel;
    // NeMo note: NeMo accepts an odd d_model and fails later with a shape error.
    check(
      dModel % 2 === 0,
      'INVALID_CONFIG',
      () => `${this.typeName}: dModel must be even (the table pairs sin and cos columns), got ${dModel}`,
      () => ({ field: 'dModel', value: dModel }),
    );
    this.dModel = dModel;
    this.maxLen = cfg.maxLen;
    this.xscale = cfg.xscale || null;
    this.tableLength = this.maxLen;
    this.registerBuffer('pe', this.createPe(this.maxLen), { persistent: false });
    this.setupAdapterStrategy(adapterStrategy);
  }

  /** The whole table, `[1, rows, dModel]` float32 (owned by the adapter: do not dispose). */
  get pe(): Tensor {
    return this.getBuffer('pe')!;
  }

  /** Current table length L. */
  get length(): number {
    return this.tableLength;
  }

  /** Builds the table for length `length`. */
  protected createPe(length: number): Tensor {
    return tf.tensor3d(sinusoidTable(0, length, 1, this.dModel), [1, length, this.dModel]);
  }

  /**
   * Pre-sizes the table to at least `length` positions; a shorter or equal length is a no-op.
   *
   * @throws AdapterError `INVALID_INPUT` unless `length` is an integer ≥ 1.
   */
  extendPe(length: number): void {
    check(
      Number.isInteger(length) && length >= 1,
      'INVALID_INPUT',
      () => `${this.typeName}.extendPe: length must be an integer ≥ 1, got ${describeValue(length)}`,
    );
    if (length <= this.tableLength) return;
    this.setBuffer('pe', this.createPe(length));
    this.tableLength = length;
  }

  /** Checks `x [B, T, dModel]` and grows the table to `T`; returns `T`. */
  protected prepare(x: unknown): number {
    if (!(x instanceof tf.Tensor)) {
      throw new AdapterError(
        'INVALID_INPUT',
        `${this.typeName}: forward expects a tensor [B, T, ${this.dModel}], got ${describeValue(x)}`,
      );
    }
    check(
      x.rank === 3 && x.shape[2] === this.dModel,
      'INVALID_INPUT',
      () => `${this.typeName}: the input must have shape [B, T, ${this.dModel}], got ${fmtShape(x.shape)}`,
    );
    const t = x.shape[1]!;
    // NeMo note: NeMo requires a manual `extend_pe` before longer inputs; here the table grows itself.
    if (t > this.tableLength) this.extendPe(t);
    return t;
  }

  /** `x·xscale` (a copy of `x` when there is no scale). */
  protected scaled(x: Tensor): Tensor {
    return this.xscale ? tf.mul(x, this.xscale) : tf.clone(x);
  }

  /**
   * Adds the positions.
   *
   * @param x - `[B, T, dModel]`.
   * @returns `[x·xscale + pe[0:T], pe[0:T]]`; the second tensor is `[1, T, dModel]`.
   */
  override forward(x: Tensor): [Tensor, Tensor] {
    const t = this.prepare(x);
    return tf.tidy(() => {
      const pos = tf.slice(this.pe, [0, 0, 0], [1, t, this.dModel]);
      return [tf.add(this.scaled(x), pos), pos] as [Tensor, Tensor];
    });
  }
}

/**
 * Relative sinusoidal positions for Transformer-XL attention (what NeMo calls
 * `RelPositionalEncodingAdapter`, config type `relPositionalEncoding`). Default strategy `returnResult`.
 *
 * `forward(x [B, T, dModel])` returns `[x·xscale, window]` where `window [1, 2T−1, dModel]` holds the
 * rows for relative positions `T−1, T−2, …, −(T−1)` (the `posEmb` of
 * `relPositionMultiHeadAttention`). Positions are **not** added to `x`. A `T` beyond the table grows it.
 *
 * State keys: none. Buffer `pe [1, 2L−1, dModel]` (non-persistent), rows for positions `L−1 … −(L−1)`.
 *
 * @example
 * ```ts
 * const [xs, posEmb] = new RelPositionalEncodingAdapter({ dModel: 64 }).forward(x);
 * ```
 */
export class RelPositionalEncodingAdapter extends PositionalEncodingAdapter {
  static override readonly typeName: string = 'RelPositionalEncodingAdapter';

  protected override createPe(length: number): Tensor {
    const rows = 2 * length - 1;
    return tf.tensor3d(sinusoidTable(length - 1, rows, -1, this.dModel), [1, rows, this.dModel]);
  }

  /**
   * Scales the input and cuts the relative-position window.
   *
   * @param x - `[B, T, dModel]`.
   * @returns `[x·xscale, window]`, `window [1, 2T−1, dModel]` for positions `T−1 … −(T−1)`.
   */
  override forward(x: Tensor): [Tensor, Tensor] {
    const t = this.prepare(x);
    return tf.tidy(() => {
      // Row i of the table holds position L−1−i, so position T−1 is row L−T.
      const window = tf.slice(this.pe, [0, this.tableLength - t, 0], [1, 2 * t - 1, this.dModel]);
      return [this.scaled(x), window] as [Tensor, Tensor];
    });
  }
}
