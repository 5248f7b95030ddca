/**
 * IA³ wrapper layer (SPEC §4.1; what PEFT calls `ia3.Linear`): learned rescaling of a linear's output
 * or, for feed-forward modules, of its input.
 */
import { tf, type Tensor } from '../../backend/tf.js';
import { check } from '../../errors.js';
import { normal } from '../../nn/init.js';
import { Linear } from '../../nn/layers.js';
import { getRng, type Rng } from '../../rng.js';
import {
  assignCast,
  f32,
  LinearTunerLayer,
  ParameterDict,
  type AdapterTensor,
} from '../tuners/tuner-layer.js';

/** What unmerge divides by: `l + 1e-8` (PEFT's guard against division by zero). */
export const IA3_UNMERGE_EPS = 1e-8;

/**
 * IA³ on a {@link Linear}. Per adapter `n` a vector `ia3_l.<n>`:
 * - not feed-forward: shape `[out, 1]`, `y = base(x) ⊙ lᵀ` (the bias is scaled too);
 * - feed-forward: shape `[1, in]`, `y = base(x ⊙ l)` (the bias is not scaled).
 *
 * Several running adapters multiply. State keys: the base `weight`, `bias`, and `ia3_l.<n>`.
 * Init: ones (`initIa3Weights: true`), else N(0, 1).
 *
 * @example
 * ```ts
 * const ia3 = new Ia3Linear({ base: fc });
 * ia3.updateLayer('default', { feedforward: false });
 * ```
 */
export class Ia3Linear extends LinearTunerLayer {
  static override readonly typeName: string = 'Ia3Linear';
  static override readonly adapterLayerNames = ['ia3_l'] as const;
  readonly tunerKind = 'ia3' as const;
  readonly ia3_l: ParameterDict;
  /** Per adapter: whether it scales the input (feed-forward). Insertion order. */
  readonly feedforward = new Map<string, boolean>();

  constructor(options: { base: Linear; fanInFanOut?: boolean }) {
    super(options);
    this.ia3_l = this.registerModule('ia3_l', new ParameterDict());
  }

  /** Adds adapter `name`: ones, or N(0, 1) draws with `initIa3Weights: false`. */
  updateLayer(name: string, o: { feedforward: boolean; initIa3Weights?: boolean; rng?: Rng }): void {
    check(
      !this.feedforward.has(name),
      'DUPLICATE_ADAPTER',
      () => `'${this.label()}' already holds IA³ adapter '${name}'`,
    );
    const shape = o.feedforward ? [1, this.inFeatures] : [this.outFeatures, 1];
    this.ia3_l.set(name, (o.initIa3Weights ?? true) ? tf.ones(shape) : normal(shape, 1, o.rng ?? getRng()));
    this.feedforward.set(name, o.feedforward);
  }

  override heldAdapters(): string[] {
    return [...this.feedforward.keys()];
  }

  override adapterParameters(name: string): AdapterTensor[] {
    const l = this.ia3_l.get(name);
    return l ? [{ key: `ia3_l.${name}`, peftKey: 'ia3_l', param: l }] : [];
  }

  override removeAdapter(name: string): void {
    if (this.ia3_l.has(name)) this.ia3_l.delete(name);
    this.feedforward.delete(name);
  }

  /** `x [..., in]` → `[..., out]`. */
  override forward(x: Tensor): Tensor {
    return tf.tidy(() => {
      const names = this.runNames();
      let inScale: Tensor | null = null;
      let outScale: Tensor | null = null;
      for (const n of names) {
        const l = tf.reshape(this.ia3_l.get(n)!, [-1]);
        if (this.feedforward.get(n)) inScale = inScale ? tf.mul(inScale, l) : l;
        else outScale = outScale ? tf.mul(outScale, l) : l;
      }
      const y = this.baseLayer.forward(inScale ? tf.mul(x, inScale) : x);
      return outScale ? tf.mul(y, outScale) : y;
    });
  }

  /** `ia3_l` laid out to broadcast over the stored weight. */
  private scaleForWeight(name: string, eps = 0): Tensor {
    return tf.tidy(() => {
      let l = f32(this.ia3_l.get(name)!);
      if (eps) l = tf.add(l, eps);
      // [out, 1] scales rows of [out, in] and [1, in] scales columns; the [in, out] layout transposes.
      return this.fanInFanOut ? tf.transpose(l) : tf.clone(l);
    });
  }

  override mergeAdapter(name: string, checkFinite: boolean): void {
    const scale = this.scaleForWeight(name);
    const newW = tf.tidy(() => tf.mul(f32(this.weight), scale));
    const bias = this.bias;
    const newB =
      bias && !this.feedforward.get(name) ? tf.tidy(() => tf.mul(f32(bias), tf.reshape(scale, [-1]))) : null;
    scale.dispose();
    this.commitMerge(name, newW, newB, checkFinite);
  }

  /** Divides by `l + 1e-8`: approximate (the managing model warns). */
  override unmergeAdapter(name: string): void {
    const scale = this.scaleForWeight(name, IA3_UNMERGE_EPS);
    assignCast(
      this.weight,
      tf.tidy(() => tf.div(f32(this.weight), scale)),
    );
    const bias = this.bias;
    if (bias && !this.feedforward.get(name))
      assignCast(
        bias,
        tf.tidy(() => tf.div(f32(bias), tf.reshape(scale, [-1]))),
      );
    scale.dispose();
    this.forgetMerge(name);
  }
}
