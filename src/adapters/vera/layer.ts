/**
 * VeRA wrapper layer (SPEC §5.4; what PEFT calls `vera.Linear`): a linear whose output gains
 * `λ_b ⊙ (B_s · (λ_d ⊙ (A_s · x)))`, with `A_s`, `B_s` slices of the adapter's shared frozen
 * projections and `λ_d`, `λ_b` the layer's trainable vectors.
 */
import { tf, type Tensor } from '../../backend/tf.js';
import { permuteRows } from '../../backend/kernels.js';
import { check } from '../../errors.js';
import { normal } from '../../nn/init.js';
import { Dropout, Linear, ModuleDict, linear } from '../../nn/layers.js';
import { invertPerm } from '../../nn/rows.js';
import { getRng, type Rng } from '../../rng.js';
import {
  assignCast,
  f32,
  LinearTunerLayer,
  ParameterDict,
  type AdapterTensor,
} from '../tuners/tuner-layer.js';
import type { VeraProjectionPair } from './projection.js';

/** Per-adapter options of a VeRA layer. */
export interface VeraAdapterOptions {
  /** Rank ≥ 1: `λ_d` has `r` entries; the projections must have at least `r` rows (A) / columns (B). */
  r: number;
  /** The adapter's shared projections, at least `[r, in]` and `[out, r]`. */
  projections: VeraProjectionPair;
  /** Dropout on the branch input (training only). Default 0. */
  veraDropout?: number;
  /** true: `λ_d = dInitial`, `λ_b = 0`; false: `λ_d ~ N(0, 1)`, `λ_b = 1`. Default true. */
  initWeights?: boolean;
  /** Initial `λ_d` entries with `initWeights`. Default 0.1. */
  dInitial?: number;
  /** Generator for `initWeights: false` and dropout; default the library RNG. */
  rng?: Rng;
}

/**
 * VeRA on a {@link Linear}: `y = base(x) + Σₐ λ_bₐ ⊙ (B_sₐ · (λ_dₐ ⊙ (A_sₐ · Dropoutₐ(x))))` over the
 * running adapters (insertion order; merged adapters skipped), where `A_s = A[:, :in]` and
 * `B_s = B[:out, :]` slice the adapter's shared projections (`A [r, maxIn]`, `B [maxOut, r]`).
 *
 * State keys: the base `weight`, `bias` (unchanged), and per adapter `n`: `vera_lambda_b.<n> [out]`,
 * `vera_lambda_d.<n> [r]`. The projections are not part of the layer's state (the managing model
 * holds one pair per adapter). Init: `λ_d = dInitial`, `λ_b = 0`, so the output equals the base.
 *
 * @example
 * ```ts
 * const pair = VeraProjectionPair.generate({ key: 0, r: 16, maxIn: 64, maxOut: 64, saveProjection: true });
 * const vera = new VeraLinear({ base: new Linear({ inFeatures: 64, outFeatures: 64 }) });
 * vera.updateLayer('default', { r: 16, projections: pair });
 * const y = vera.forward(x); // equals the base output at init (λ_b = 0)
 * ```
 */
export class VeraLinear extends LinearTunerLayer {
  static override readonly typeName: string = 'VeraLinear';
  static override readonly adapterLayerNames = ['vera_lambda_b', 'vera_lambda_d'] as const;
  readonly tunerKind = 'vera' as const;
  readonly vera_dropout: ModuleDict<Dropout>;
  readonly vera_lambda_b: ParameterDict;
  readonly vera_lambda_d: ParameterDict;
  /** Per adapter: its rank and shared projections, in insertion order. */
  readonly info = new Map<string, { r: number; projections: VeraProjectionPair }>();

  constructor(options: { base: Linear; fanInFanOut?: boolean }) {
    super(options);
    this.vera_dropout = this.registerModule('vera_dropout', new ModuleDict<Dropout>());
    this.vera_lambda_b = this.registerModule('vera_lambda_b', new ParameterDict());
    this.vera_lambda_d = this.registerModule('vera_lambda_d', new ParameterDict());
  }

  /** Adds adapter `name`: checks the projections cover this layer, then creates its vectors (trainable). */
  updateLayer(name: string, o: VeraAdapterOptions): void {
    check(
      !this.info.has(name),
      'DUPLICATE_ADAPTER',
      () => `'${this.label()}' already holds VeRA adapter '${name}'`,
    );
    const { r, projections: p } = o;
    check(
      Number.isInteger(r) && r >= 1,
      'INVALID_CONFIG',
      () => `VeRA adapter '${name}' on '${this.label()}': r must be an integer ≥ 1, got ${r}`,
    );
    const [aRows, aCols] = p.a.shape as [number, number];
    const [bRows, bCols] = p.b.shape as [number, number];
    check(
      aRows >= r && bCols >= r && aCols >= this.inFeatures && bRows >= this.outFeatures,
      'INVALID_CONFIG',
      () =>
        `VeRA adapter '${name}' on '${this.label()}' (in ${this.inFeatures}, out ${this.outFeatures}, r ${r}) needs vera_A of at least [${r}, ${this.inFeatures}] and vera_B of at least [${this.outFeatures}, ${r}]; got [${aRows}, ${aCols}] and [${bRows}, ${bCols}]`,
    );
    const rng = o.rng ?? getRng();
    const init = o.initWeights ?? true;
    this.vera_lambda_d.set(name, init ? tf.fill([r], o.dInitial ?? 0.1) : normal([r], 1, rng));
    this.vera_lambda_b.set(name, init ? tf.zeros([this.outFeatures]) : tf.ones([this.outFeatures]));
    const dropout = new Dropout({ p: o.veraDropout ?? 0, rng: o.rng });
    dropout.training = this.training;
    this.vera_dropout.set(name, dropout);
    this.info.set(name, { r, projections: p });
  }

  override heldAdapters(): string[] {
    return [...this.info.keys()];
  }

  override adapterParameters(name: string): AdapterTensor[] {
    const b = this.vera_lambda_b.get(name);
    const d = this.vera_lambda_d.get(name);
    if (!b || !d) return [];
    return [
      { key: `vera_lambda_b.${name}`, peftKey: 'vera_lambda_b', param: b },
      { key: `vera_lambda_d.${name}`, peftKey: 'vera_lambda_d', param: d },
    ];
  }

  override removeAdapter(name: string): void {
    if (this.vera_lambda_b.has(name)) this.vera_lambda_b.delete(name);
    if (this.vera_lambda_d.has(name)) this.vera_lambda_d.delete(name);
    this.vera_dropout.delete(name);
    this.info.delete(name);
  }

  /** `A_s = A[:r, :in]` and `B_s = B[:out, :r]` of adapter `name`. */
  private slices(name: string): [Tensor, Tensor] {
    const { r, projections: p } = this.info.get(name)!;
    return [tf.slice(p.a, [0, 0], [r, this.inFeatures]), tf.slice(p.b, [0, 0], [this.outFeatures, r])];
  }

  /** `x [..., in]` → `[..., out]`. With a per-sample plan (SPEC §4.5), row `b` adds only its adapter's delta. */
  override forward(x: Tensor): Tensor {
    return tf.tidy(() => {
      let y = this.baseLayer.forward(x);
      const plan = this.rowPlan(x);
      if (plan) {
        const delta = this.perRowDelta(x, plan);
        return delta ? tf.add(y, delta) : y;
      }
      for (const n of this.runNames()) y = tf.add(y, this.adapterDelta(x, n));
      return y;
    });
  }

  /**
   * Per-sample selection: the rows of each selected adapter held here are gathered by a permutation,
   * run through {@link adapterDelta} as one group, and put back; other rows get zero. Null when no
   * row selects an adapter held here. Only the selected adapters enter the computation, so no other
   * adapter receives a gradient.
   */
  private perRowDelta(x: Tensor, plan: readonly (string | null)[]): Tensor | null {
    const held = this.heldAdapters();
    const names: string[] = [];
    for (const n of plan) if (n !== null && held.includes(n) && !names.includes(n)) names.push(n);
    if (!names.length) return null;
    return tf.tidy(() => {
      const groups = names.map((n) => plan.flatMap((p, row) => (p === n ? [row] : [])));
      const rest = plan.flatMap((p, row) => (p !== null && names.includes(p) ? [] : [row]));
      const perm = [...groups.flat(), ...rest];
      const xp = permuteRows(x, perm);
      const parts: Tensor[] = [];
      let offset = 0;
      names.forEach((n, i) => {
        const len = groups[i]!.length;
        parts.push(this.adapterDelta(tf.slice(xp, offset, len), n));
        offset += len;
      });
      if (rest.length) parts.push(tf.zeros([rest.length, ...x.shape.slice(1, -1), this.outFeatures]));
      return permuteRows(tf.concat(parts, 0), invertPerm(perm));
    });
  }

  /** What adapter `name` adds to the base output: `λ_b ⊙ (B_s · (λ_d ⊙ (A_s · Dropout(x))))`. */
  adapterDelta(x: Tensor, name: string): Tensor {
    return tf.tidy(() => {
      const [a, b] = this.slices(name);
      const xd = this.vera_dropout.get(name)!.forward(x);
      const h = tf.mul(linear(xd, a, null), this.vera_lambda_d.get(name)!);
      return tf.mul(linear(h, b, null), this.vera_lambda_b.get(name)!);
    });
  }

  /** `(λ_b ⊙ B_s) · (λ_d ⊙ A_s)` in `[out, in]` layout, float32. */
  deltaWeight(name: string): Tensor {
    return tf.tidy(() => {
      const [a, b] = this.slices(name);
      const lb = tf.reshape(f32(this.vera_lambda_b.get(name)!), [-1, 1]);
      const ld = tf.reshape(f32(this.vera_lambda_d.get(name)!), [-1, 1]);
      return tf.matMul(tf.mul(lb, b), tf.mul(ld, a));
    });
  }

  /** `W ± ΔW` in the stored layout, float32. */
  private shiftedWeight(name: string, sign: 1 | -1): Tensor {
    return tf.tidy(() => {
      const delta = this.deltaWeight(name);
      const d = this.fanInFanOut ? tf.transpose(delta) : delta;
      return sign > 0 ? tf.add(f32(this.weight), d) : tf.sub(f32(this.weight), d);
    });
  }

  /** `W ← W + (λ_b ⊙ B_s)(λ_d ⊙ A_s)` (transposed with `fanInFanOut`); the bias is unchanged. */
  override mergeAdapter(name: string, checkFinite: boolean): void {
    this.commitMerge(name, this.shiftedWeight(name, 1), null, checkFinite);
  }

  /** Subtracts the merged delta (exact up to float32 rounding). */
  override unmergeAdapter(name: string): void {
    assignCast(this.weight, this.shiftedWeight(name, -1));
    this.forgetMerge(name);
  }
}
