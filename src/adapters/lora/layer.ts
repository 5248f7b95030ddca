/**
 * LoRA wrapper layers (SPEC §4.1; what PEFT calls `lora.Linear` and `lora.Embedding`): each keeps the
 * wrapped layer's variables under their original keys and adds per-adapter low-rank factors.
 */
import { shareModelGuid } from '../model-guid.js';
import { tf, type Tensor } from '../../backend/tf.js';
import {
  embeddingLookup,
  fusedLoraLinear,
  loraLinearFusable,
  matMul,
  matMulWeightT,
  permuteRows,
} from '../../backend/kernels.js';
import { customGrad3 } from '../../backend/kernels/custom-grad.js';
import { AdapterError, check } from '../../errors.js';
import { normal, uniform } from '../../nn/init.js';
import { Dropout, Embedding, Linear, ModuleDict, linear, requireLastDim } from '../../nn/layers.js';
import { batchedMatMul } from '../../backend/kernels/batched-mat-mul.js';
import type { Module } from '../../nn/module.js';
import { getRng, type Rng } from '../../rng.js';
import { invertPerm, padCols, padRows, rowDropout, rowSelection, selectPerRow } from '../../nn/rows.js';
import { loraScaling, type InitLoraWeights } from './config.js';
import {
  assignCast,
  BaseTunerLayer,
  f32,
  LinearTunerLayer,
  ParameterDict,
  type AdapterTensor,
} from '../tuners/tuner-layer.js';

/** Per-adapter options of a LoRA layer (resolved from the config and the rank/alpha patterns). */
export interface LoraAdapterOptions {
  /** Rank ≥ 1. */
  r: number;
  /** Scale numerator > 0. */
  loraAlpha: number;
  /** Scaling `α/√r` instead of `α/r`. Default false. */
  useRslora?: boolean;
  /** Dropout on the branch input (linear only, training only). Default 0. */
  loraDropout?: number;
  /** Default true. */
  initLoraWeights?: InitLoraWeights;
  /** `lora_B` gets a bias, zero-initialised (linear only). Default false. */
  loraBias?: boolean;
  /** DoRA (linear only). Default false. */
  useDora?: boolean;
  /** Generator for the initial values; default the library RNG. */
  rng?: Rng;
}

/** Resolved per-adapter numbers. */
export interface LoraAdapterInfo {
  r: number;
  alpha: number;
  scaling: number;
  useDora: boolean;
  loraBias: boolean;
}

/**
 * Row norms `‖W + s·B·A‖₂` (per output row) computed as a constant: the value takes part in the
 * forward, but its gradient with respect to W, B and A is zero (what PyTorch writes as `.detach()`;
 * TensorFlow.js has no stop-gradient op). The ops run inside the custom gradient's forward, so they
 * are not recorded on the tape at all.
 */
function doraWeightNorm(w: Tensor, b: Tensor, a: Tensor, scaling: number, fanInFanOut: boolean): Tensor {
  const f = customGrad3((wi: Tensor, bi: Tensor, ai: Tensor) => ({
    value: tf.tidy(() => {
      const wOI = fanInFanOut ? tf.transpose(wi) : wi;
      const combined = tf.add(wOI, tf.mul(tf.matMul(bi, ai), scaling));
      return tf.sqrt(tf.sum(tf.square(combined), 1));
    }),
    gradFunc: () => [tf.zerosLike(wi), tf.zerosLike(bi), tf.zerosLike(ai)],
  }));
  return f(w, b, a);
}

/** Stacked frozen adapter weights of a {@link LoraLinear} (kept tensors, owned by the layer). */
interface FrozenStack {
  key: unknown[];
  names: string[];
  rMax: number;
  a: Tensor;
  b: Tensor;
  bias: Tensor | null;
}

/**
 * LoRA on a {@link Linear}: `y = base(x) + Σₐ sₐ·Bₐ(Aₐ(Dropoutₐ(x)))` over the running adapters
 * (summed on the same input, insertion order; merged adapters skipped).
 *
 * State keys: the base layer's `weight`, `bias` (unchanged), and per adapter `n`:
 * `lora_A.<n>.weight [r, in]`, `lora_B.<n>.weight [out, r]`, `lora_B.<n>.bias [out]` (with `loraBias`),
 * `lora_magnitude_vector.<n> [out]` (DoRA). Dropout modules live under `lora_dropout.<n>` (no state).
 *
 * Init (`initLoraWeights`): `true` A ~ U(±1/√in), B = 0; `'gaussian'` A ~ N(0, (1/r)²), B = 0;
 * `'xavierUniform'` A ~ U(±√(6/(in + r))), B = 0; `'xavierNormal'` A ~ N(0, 2/(in + r)), B = 0;
 * `false` A ~ U(±1/√in), B ~ U(±1/√r) (and `lora_B`'s bias). DoRA: `m = ‖W + s·B·A‖` per row.
 *
 * With `fanInFanOut` the base weight is stored `[in, out]` (GPT-2's Conv1D layout) and the wrapped
 * layer is expected to apply it as `x·W`; A and B keep the shapes above.
 * PEFT note: PEFT resets `fan_in_fan_out` to false with a warning when it wraps a plain `nn.Linear`;
 * the library honours the flag (no accepted-but-ignored options).
 *
 * @example
 * ```ts
 * const lora = new LoraLinear({ base: new Linear({ inFeatures: 64, outFeatures: 64 }) });
 * lora.updateLayer('default', { r: 8, loraAlpha: 16 });
 * const y = lora.forward(x); // equals the base output at init (B = 0)
 * ```
 */
export class LoraLinear extends LinearTunerLayer {
  static override readonly typeName: string = 'LoraLinear';
  static override readonly adapterLayerNames = ['lora_A', 'lora_B', 'lora_magnitude_vector'] as const;
  readonly tunerKind = 'lora' as const;
  readonly lora_dropout: ModuleDict<Dropout>;
  readonly lora_A: ModuleDict<Linear>;
  readonly lora_B: ModuleDict<Linear>;
  readonly lora_magnitude_vector: ParameterDict;
  /** Per-adapter rank, alpha, scaling and flags, in insertion order. */
  readonly info = new Map<string, LoraAdapterInfo>();
  private readonly doraFactors = new Map<string, Tensor>();
  /** Stacked weights of every held frozen plain adapter, for per-sample inference; see {@link frozenStack}. */
  private stackCache: FrozenStack | null = null;

  constructor(options: { base: Linear; fanInFanOut?: boolean }) {
    super(options);
    this.lora_dropout = this.registerModule('lora_dropout', new ModuleDict<Dropout>());
    this.lora_A = this.registerModule('lora_A', new ModuleDict<Linear>());
    this.lora_B = this.registerModule('lora_B', new ModuleDict<Linear>());
    this.lora_magnitude_vector = this.registerModule('lora_magnitude_vector', new ParameterDict());
  }

  /** Adds adapter `name` with freshly initialised factors (trainable). */
  updateLayer(name: string, o: LoraAdapterOptions): void {
    check(
      !this.info.has(name),
      'DUPLICATE_ADAPTER',
      () => `'${this.label()}' already holds LoRA adapter '${name}'`,
    );
    const rng = o.rng ?? getRng();
    const { r } = o;
    const init = o.initLoraWeights ?? true;
    const inF = this.inFeatures;
    const A = new Linear({ inFeatures: inF, outFeatures: r, bias: false, rng });
    const B = new Linear({ inFeatures: r, outFeatures: this.outFeatures, bias: o.loraBias ?? false, rng });
    if (init === 'gaussian') assignCast(A.weight, normal([r, inF], 1 / r, rng));
    else if (init === 'xavierUniform') assignCast(A.weight, uniform([r, inF], Math.sqrt(6 / (inF + r)), rng));
    else if (init === 'xavierNormal') assignCast(A.weight, normal([r, inF], Math.sqrt(2 / (inF + r)), rng));
    if (init !== false) {
      assignCast(B.weight, tf.zerosLike(B.weight));
      if (B.bias) assignCast(B.bias, tf.zerosLike(B.bias));
    }
    const scaling = loraScaling(r, o.loraAlpha, o.useRslora ?? false);
    for (const m of [A, B]) shareModelGuid(this, m);
    this.lora_dropout.set(name, new Dropout({ p: o.loraDropout ?? 0, rng: o.rng }));
    this.lora_A.set(name, A);
    this.lora_B.set(name, B);
    const useDora = o.useDora ?? false;
    if (useDora) {
      this.lora_magnitude_vector.set(
        name,
        doraWeightNorm(this.weight, B.weight, A.weight, scaling, this.fanInFanOut),
      );
    }
    this.info.set(name, { r, alpha: o.loraAlpha, scaling, useDora, loraBias: o.loraBias ?? false });
    this.lora_dropout.get(name)!.training = this.training;
  }

  override heldAdapters(): string[] {
    return [...this.info.keys()];
  }

  override adapterParameters(name: string): AdapterTensor[] {
    const out: AdapterTensor[] = [];
    const A = this.lora_A.get(name);
    const B = this.lora_B.get(name);
    if (!A || !B) return out;
    out.push({ key: `lora_A.${name}.weight`, peftKey: 'lora_A.weight', param: A.weight });
    out.push({ key: `lora_B.${name}.weight`, peftKey: 'lora_B.weight', param: B.weight });
    if (B.bias) out.push({ key: `lora_B.${name}.bias`, peftKey: 'lora_B.bias', param: B.bias });
    const m = this.lora_magnitude_vector.get(name);
    if (m) out.push({ key: `lora_magnitude_vector.${name}`, peftKey: 'lora_magnitude_vector', param: m });
    return out;
  }

  override removeAdapter(name: string): void {
    this.clearStackCache();
    this.lora_A.delete(name)?.dispose();
    this.lora_B.delete(name)?.dispose();
    this.lora_dropout.delete(name);
    if (this.lora_magnitude_vector.has(name)) this.lora_magnitude_vector.delete(name);
    this.info.delete(name);
  }

  /** `x [..., in]` → `[..., out]`. With a per-sample plan (SPEC §4.5), row `b` adds only its adapter's delta. */
  override forward(x: Tensor): Tensor {
    return tf.tidy(() => {
      const plan = this.rowPlan(x);
      const names = this.runNames();
      const fused = plan ? null : this.fusedAdapter(x, names);
      if (fused !== null) {
        requireLastDim(x, this.inFeatures, this.label());
        const { scaling } = this.info.get(fused)!;
        const [a, b] = [this.lora_A.get(fused)!.weight, this.lora_B.get(fused)!.weight];
        return fusedLoraLinear(x, this.weight, this.bias, a, b, scaling);
      }
      const base = this.baseLayer.forward(x);
      if (plan) {
        const delta = this.perRowDelta(x, base, plan);
        return delta ? tf.add(base, delta) : base;
      }
      let y = base;
      for (const n of names) y = tf.add(y, this.adapterDelta(x, n, base));
      return y;
    });
  }

  /**
   * The adapter to run as one fused native kernel (backend/kernels/lora-linear.ts), or null: only
   * when exactly one plain adapter runs (no DoRA, no `lora_B` bias, no active dropout) on a plain
   * {@link Linear} with frozen float32 weights in `[out, in]` layout.
   */
  private fusedAdapter(x: Tensor, names: string[]): string | null {
    if (names.length !== 1 || !loraLinearFusable()) return null;
    if (this.fanInFanOut || this.baseLayer.constructor !== Linear) return null;
    const n = names[0]!;
    const { useDora, loraBias } = this.info.get(n)!;
    const dropout = this.lora_dropout.get(n)!;
    if (useDora || loraBias || (dropout.training && dropout.p > 0)) return null;
    const { weight, bias } = this;
    if (weight.trainable || bias?.trainable) return null;
    const ts = [x, weight, bias, this.lora_A.get(n)!.weight, this.lora_B.get(n)!.weight];
    return ts.every((t) => t === null || t.dtype === 'float32') ? n : null;
  }

  /**
   * Per-sample selection (SPEC §4.5): `delta[b] = s_{n_b}·B_{n_b}(A_{n_b}(Dropout_{n_b}(x[b])))` for
   * the adapter `n_b` of row `b` (zero for base rows and adapters not held here).
   *
   * Plain LoRA adapters run in one pass: the selected adapters' `Aᵀ` are stacked `[K, in, rmax]` and
   * `(s·B)ᵀ` `[K, rmax, out]` (zero-padded to the largest rank, scaling folded in), each row picks
   * its pair with a one-hot product (`selectPerRow`; base rows pick zeros), and the per-row products
   * run as two batched matMuls `[B, T, in]·[B, in, rmax]·[B, rmax, out]`. LoRA dropout is drawn per
   * row with that row's adapter's probability (training only). Only adapters some row selects enter
   * the computation, so no other adapter receives a gradient.
   *
   * DoRA adapters fall back to row groups: each DoRA adapter's rows are gathered by a permutation,
   * run through {@link adapterDelta} as a group, and put back.
   */
  private perRowDelta(x: Tensor, base: Tensor, plan: readonly (string | null)[]): Tensor | null {
    const held = this.heldAdapters();
    const selected: string[] = [];
    for (const n of plan) if (n !== null && held.includes(n) && !selected.includes(n)) selected.push(n);
    const plain = selected.filter((n) => !this.info.get(n)!.useDora);
    const dora = selected.filter((n) => this.info.get(n)!.useDora);
    const parts: Tensor[] = [];
    if (plain.length)
      parts.push(
        this.gatherDelta(
          x,
          plain,
          plan.map((n) => (n === null ? -1 : plain.indexOf(n))),
        ),
      );
    if (dora.length) parts.push(this.groupedDelta(x, base, dora, plan));
    if (!parts.length) return null; // every row is base here (or runs an adapter this layer does not hold)
    return parts.length === 1 ? parts[0]! : tf.add(parts[0]!, parts[1]!);
  }

  /**
   * `Aᵀ` and `(s·B)ᵀ` (and scaled biases) of every held plain adapter, stacked and flattened
   * `[K, in·rmax]` / `[K, rmax·out]`, kept between calls while none of them is trainable and none
   * was reassigned (the cache key is the weights' data ids) — what a server decoding step by step
   * with frozen adapters needs, instead of re-stacking them at every step. Null when some held plain
   * adapter is trainable: then gradients must flow through the stacking.
   */
  private frozenStack(): FrozenStack | null {
    const names = this.heldAdapters().filter((n) => !this.info.get(n)!.useDora);
    const parts = names.map(
      (n) => [this.lora_A.get(n)!.weight, this.lora_B.get(n)!.weight, this.lora_B.get(n)!.bias] as const,
    );
    if (parts.some((ws) => ws.some((w) => w !== null && w.trainable))) return null;
    const key: unknown[] = parts.flatMap(([a, b, bias], i) => [
      a.dataId,
      b.dataId,
      bias?.dataId,
      this.info.get(names[i]!)!.scaling,
    ]);
    const hit = this.stackCache;
    if (hit && hit.key.length === key.length && hit.key.every((k, i) => k === key[i])) return hit;
    this.clearStackCache();
    const rMax = Math.max(...names.map((n) => this.info.get(n)!.r));
    const outF = this.outFeatures;
    const kept = tf.tidy(() => {
      const flat = (ts: Tensor[]) => tf.reshape(tf.stack(ts), [ts.length, -1]);
      const a = flat(names.map((n) => padCols(tf.transpose(this.lora_A.get(n)!.weight), rMax)));
      const b = flat(
        names.map((n) =>
          padRows(tf.transpose(tf.mul(this.lora_B.get(n)!.weight, this.info.get(n)!.scaling)), rMax),
        ),
      );
      const bias = parts.some(([, , bi]) => bi)
        ? flat(
            names.map((n) => {
              const bi = this.lora_B.get(n)!.bias;
              return bi ? tf.mul(bi, this.info.get(n)!.scaling) : tf.zeros([outF]);
            }),
          )
        : null;
      // Kept: this may run inside a caller's tidy, which must not free the cache.
      return (bias ? [a, b, bias] : [a, b]).map((t) => tf.keep(t));
    }) as Tensor[];
    this.stackCache = { key, names, rMax, a: kept[0]!, b: kept[1]!, bias: kept[2] ?? null };
    return this.stackCache;
  }

  private clearStackCache(): void {
    const c = this.stackCache;
    if (!c) return;
    c.a.dispose();
    c.b.dispose();
    c.bias?.dispose();
    this.stackCache = null;
  }

  /** One-pass delta of the plain adapters `names`; `rowIdx[b]` indexes `names` (−1 = none). */
  private gatherDelta(x: Tensor, names: string[], rowIdx: number[]): Tensor {
    const stack = this.frozenStack();
    if (stack)
      return this.stackedDelta(
        x,
        stack,
        rowIdx.map((i) => (i < 0 ? -1 : stack.names.indexOf(names[i]!))),
      );
    return tf.tidy(() => {
      const k = names.length;
      const b = x.shape[0]!;
      const inF = this.inFeatures;
      const outF = this.outFeatures;
      const idx = rowIdx.map((i) => (i < 0 ? k : i));
      const sel = rowSelection(idx, k);
      const rMax = Math.max(...names.map((n) => this.info.get(n)!.r));
      const aT = names.map((n) => padCols(tf.transpose(this.lora_A.get(n)!.weight), rMax));
      const bT = names.map((n) =>
        padRows(tf.transpose(tf.mul(this.lora_B.get(n)!.weight, this.info.get(n)!.scaling)), rMax),
      );
      const pRow = idx.map((i) => {
        const d = i < k ? this.lora_dropout.get(names[i]!)! : null;
        return d && d.training ? d.p : 0;
      });
      const xd = tf.reshape(rowDropout(x, pRow), [b, -1, inF]);
      const h = batchedMatMul(xd, selectPerRow(sel, aT));
      let delta = batchedMatMul(h, selectPerRow(sel, bT));
      if (names.some((n) => this.lora_B.get(n)!.bias)) {
        const biases = names.map((n) => {
          const bias = this.lora_B.get(n)!.bias;
          return bias ? tf.mul(bias, this.info.get(n)!.scaling) : tf.zeros([outF]);
        });
        delta = tf.add(delta, tf.reshape(selectPerRow(sel, biases), [b, 1, outF]));
      }
      return tf.reshape(delta, [...x.shape.slice(0, -1), outF]);
    });
  }

  /** The one-pass delta from a {@link frozenStack}; `rowIdx[b]` indexes `stack.names` (−1 = none). Inference only. */
  private stackedDelta(x: Tensor, stack: FrozenStack, rowIdx: number[]): Tensor {
    return tf.tidy(() => {
      const k = stack.names.length;
      const b = x.shape[0]!;
      const outF = this.outFeatures;
      const sel = rowSelection(
        rowIdx.map((i) => (i < 0 ? k : i)),
        k,
      );
      const x3 = tf.reshape(x, [b, -1, this.inFeatures]);
      const h = batchedMatMul(x3, tf.reshape(matMul(sel, stack.a), [b, this.inFeatures, stack.rMax]));
      let delta = batchedMatMul(h, tf.reshape(matMul(sel, stack.b), [b, stack.rMax, outF]));
      if (stack.bias) delta = tf.add(delta, tf.reshape(matMul(sel, stack.bias), [b, 1, outF]));
      return tf.reshape(delta, [...x.shape.slice(0, -1), outF]);
    });
  }

  /** Delta of the DoRA adapters `names`, each computed on its own rows (zero elsewhere). */
  private groupedDelta(x: Tensor, base: Tensor, names: string[], plan: readonly (string | null)[]): Tensor {
    return tf.tidy(() => {
      const groups = names.map((n) => plan.flatMap((p, row) => (p === n ? [row] : [])));
      const rest = plan.flatMap((p, row) => (p !== null && names.includes(p) ? [] : [row]));
      const perm = [...groups.flat(), ...rest];
      const xp = permuteRows(x, perm);
      const bp = permuteRows(base, perm);
      const parts: Tensor[] = [];
      let offset = 0;
      names.forEach((n, i) => {
        const len = groups[i]!.length;
        parts.push(this.adapterDelta(tf.slice(xp, offset, len), n, tf.slice(bp, offset, len)));
        offset += len;
      });
      if (rest.length) parts.push(tf.zeros([rest.length, ...base.shape.slice(1)]));
      return permuteRows(tf.concat(parts, 0), invertPerm(perm));
    });
  }

  /**
   * What adapter `name` adds to the base output `base = base(x)`: `s·B(A(Dropout(x)))`, or for DoRA
   * `(m/Wn − 1) ⊙ (base − bias) + (m/Wn) ⊙ s·B(A(Dropout(x)))` with `Wn` a constant.
   *
   * PEFT note: with dropout active PEFT's DoRA term uses the base layer on the dropped input; the
   * library uses `base(x)` as SPEC §4.1 states.
   */
  adapterDelta(x: Tensor, name: string, base: Tensor): Tensor {
    const A = this.lora_A.get(name)!;
    const B = this.lora_B.get(name)!;
    const { scaling, useDora } = this.info.get(name)!;
    return tf.tidy(() => {
      const xd = this.lora_dropout.get(name)!.forward(x);
      const lora = tf.mul(linear(linear(xd, A.weight, null), B.weight, B.bias), scaling);
      if (!useDora) return lora;
      const m = this.lora_magnitude_vector.get(name)!;
      const factor = tf.div(m, doraWeightNorm(this.weight, B.weight, A.weight, scaling, this.fanInFanOut));
      const bias = this.bias;
      const baseNoBias = bias ? tf.sub(base, bias) : base;
      return tf.add(tf.mul(tf.sub(factor, 1), baseNoBias), tf.mul(factor, lora));
    });
  }

  /** `s·B·A` in `[out, in]` layout, float32. */
  deltaWeight(name: string): Tensor {
    const { scaling } = this.info.get(name)!;
    return tf.tidy(() =>
      tf.mul(tf.matMul(f32(this.lora_B.get(name)!.weight), f32(this.lora_A.get(name)!.weight)), scaling),
    );
  }

  /** The base weight in `[out, in]` layout, float32. */
  private weightOutIn(): Tensor {
    return tf.tidy(() => {
      const w = f32(this.weight);
      return this.fanInFanOut ? tf.transpose(w) : tf.clone(w);
    });
  }

  override mergeAdapter(name: string, checkFinite: boolean): void {
    const { scaling, useDora, loraBias } = this.info.get(name)!;
    const combined = tf.tidy(() => tf.add(this.weightOutIn(), this.deltaWeight(name)));
    // DoRA: W ← (m/Wn) ⊙ (W + s·B·A) row-wise; the factor is kept for unmerge.
    const factor = useDora
      ? tf.tidy(() =>
          tf.div(f32(this.lora_magnitude_vector.get(name)!), tf.sqrt(tf.sum(tf.square(combined), 1))),
        )
      : null;
    const newW = tf.tidy(() => {
      const w = factor ? tf.mul(combined, tf.reshape(factor, [-1, 1])) : combined;
      return this.fanInFanOut ? tf.transpose(w) : tf.clone(w);
    });
    combined.dispose();
    const bias = this.bias;
    const B = this.lora_B.get(name)!;
    const newB =
      loraBias && bias && B.bias ? tf.tidy(() => tf.add(f32(bias), tf.mul(f32(B.bias!), scaling))) : null;
    this.commitMerge(name, newW, newB, checkFinite, factor);
    if (factor) this.doraFactors.set(name, factor);
  }

  override unmergeAdapter(name: string): void {
    const { scaling, loraBias } = this.info.get(name)!;
    const factor = this.doraFactors.get(name);
    const newW = tf.tidy(() => {
      let w = this.weightOutIn();
      if (factor) w = tf.div(w, tf.reshape(factor, [-1, 1]));
      w = tf.sub(w, this.deltaWeight(name));
      return this.fanInFanOut ? tf.transpose(w) : w;
    });
    assignCast(this.weight, newW);
    const bias = this.bias;
    const B = this.lora_B.get(name)!;
    if (loraBias && bias && B.bias)
      assignCast(
        bias,
        tf.tidy(() => tf.sub(f32(bias), tf.mul(f32(B.bias!), scaling))),
      );
    this.forgetMerge(name);
  }

  override forgetMerge(name: string): void {
    this.doraFactors.get(name)?.dispose();
    this.doraFactors.delete(name);
    super.forgetMerge(name);
  }

  override dispose(): void {
    this.clearStackCache();
    for (const f of this.doraFactors.values()) f.dispose();
    this.doraFactors.clear();
    super.dispose();
  }
}

/**
 * LoRA on an {@link Embedding} `(num × dim)`: `y = E[idx] + Σₐ sₐ·(Aₐᵀ[idx]·Bₐᵀ)`, no dropout.
 *
 * State keys: the base `weight`, and per adapter `n`: `lora_embedding_A.<n> [r, num]`,
 * `lora_embedding_B.<n> [dim, r]` (plain parameters, no `.weight`).
 * Init: A = 0, B ~ N(0, 1) for every `initLoraWeights` but `false`, which draws both from N(0, 1).
 * DoRA and `loraBias` are not supported on embeddings (`UNSUPPORTED_TARGET`, as PEFT).
 *
 * @example
 * ```ts
 * const emb = new LoraEmbedding({ base: new Embedding({ numEmbeddings: 100, embeddingDim: 16 }) });
 * emb.updateLayer('default', { r: 4, loraAlpha: 4 });
 * ```
 */
export class LoraEmbedding extends BaseTunerLayer {
  static override readonly typeName: string = 'LoraEmbedding';
  static override readonly adapterLayerNames = ['lora_embedding_A', 'lora_embedding_B'] as const;
  readonly tunerKind = 'lora' as const;
  override readonly baseLayer: Embedding;
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly lora_embedding_A: ParameterDict;
  readonly lora_embedding_B: ParameterDict;
  /** Per-adapter rank, alpha and scaling, in insertion order. */
  readonly info = new Map<string, LoraAdapterInfo>();

  constructor(options: { base: Embedding }) {
    const base = options.base;
    check(
      base instanceof Embedding,
      'UNSUPPORTED_TARGET',
      () => `LoraEmbedding wraps an Embedding, got ${(base as Module)?.typeName ?? typeof base}`,
    );
    super(base);
    this.baseLayer = base;
    [this.numEmbeddings, this.embeddingDim] = base.weight.shape as [number, number];
    this.lora_embedding_A = this.registerModule('lora_embedding_A', new ParameterDict());
    this.lora_embedding_B = this.registerModule('lora_embedding_B', new ParameterDict());
  }

  /** Adds adapter `name` (A = 0, B ~ N(0, 1); both N(0, 1) with `initLoraWeights: false`). */
  updateLayer(name: string, o: LoraAdapterOptions): void {
    check(
      !this.info.has(name),
      'DUPLICATE_ADAPTER',
      () => `'${this.label()}' already holds LoRA adapter '${name}'`,
    );
    if (o.useDora || o.loraBias) {
      throw new AdapterError(
        'UNSUPPORTED_TARGET',
        `'${this.label()}' is an Embedding: ${o.useDora ? 'useDora' : 'loraBias'} is supported on Linear layers only`,
        { path: this.label(), kind: 'Embedding' },
      );
    }
    const rng = o.rng ?? getRng();
    const { r } = o;
    const init = o.initLoraWeights ?? true;
    const a = init === false ? normal([r, this.numEmbeddings], 1, rng) : tf.zeros([r, this.numEmbeddings]);
    const b = normal([this.embeddingDim, r], 1, rng);
    this.lora_embedding_A.set(name, a);
    this.lora_embedding_B.set(name, b);
    this.info.set(name, {
      r,
      alpha: o.loraAlpha,
      scaling: loraScaling(r, o.loraAlpha, o.useRslora ?? false),
      useDora: false,
      loraBias: false,
    });
  }

  override heldAdapters(): string[] {
    return [...this.info.keys()];
  }

  override adapterParameters(name: string): AdapterTensor[] {
    const a = this.lora_embedding_A.get(name);
    const b = this.lora_embedding_B.get(name);
    if (!a || !b) return [];
    return [
      { key: `lora_embedding_A.${name}`, peftKey: 'lora_embedding_A', param: a },
      { key: `lora_embedding_B.${name}`, peftKey: 'lora_embedding_B', param: b },
    ];
  }

  override removeAdapter(name: string): void {
    if (this.lora_embedding_A.has(name)) this.lora_embedding_A.delete(name);
    if (this.lora_embedding_B.has(name)) this.lora_embedding_B.delete(name);
    this.info.delete(name);
  }

  /** `ids` (int32, any shape) → `[...ids.shape, dim]`. With a per-sample plan (SPEC §4.5), row `b` adds only its adapter's delta. */
  override forward(ids: Tensor): Tensor {
    return tf.tidy(() => {
      let y = this.baseLayer.forward(ids);
      const plan = this.rowPlan(ids);
      if (plan) {
        const delta = this.perRowDelta(ids, plan);
        return delta ? tf.add(y, delta) : y;
      }
      for (const n of this.runNames()) y = tf.add(y, this.adapterDelta(ids, n));
      return y;
    });
  }

  /**
   * Per-sample delta in one pass: the selected adapters' `Aᵀ` tables are concatenated `[num, Σr]`
   * and `s·B` `[dim, Σr]`; one lookup gives every adapter's low-rank codes, a constant row mask keeps
   * only the columns of row `b`'s adapter (all zero for base rows), and one matMul maps them back.
   * The lookup uses `embeddingLookup`, whose gradient is a matMul (no gather gradient on wasm).
   */
  private perRowDelta(ids: Tensor, plan: readonly (string | null)[]): Tensor | null {
    const held = this.heldAdapters();
    const names: string[] = [];
    for (const n of plan) if (n !== null && held.includes(n) && !names.includes(n)) names.push(n);
    if (!names.length) return null;
    return tf.tidy(() => {
      const ranks = names.map((n) => this.info.get(n)!.r);
      const total = ranks.reduce((a, c) => a + c, 0);
      const table = tf.concat(
        names.map((n) => tf.transpose(this.lora_embedding_A.get(n)!)),
        1,
      );
      const up = tf.concat(
        names.map((n) => tf.mul(this.lora_embedding_B.get(n)!, this.info.get(n)!.scaling)),
        1,
      );
      const owner = ranks.flatMap((r, i) => new Array<number>(r).fill(i));
      const mask = new Float32Array(plan.length * total);
      plan.forEach((n, row) => {
        const k = n === null ? -1 : names.indexOf(n);
        owner.forEach((o, c) => {
          if (o === k) mask[row * total + c] = 1;
        });
      });
      const maskT = tf.tensor(mask, [plan.length, ...ids.shape.slice(1).map(() => 1), total]);
      const codes = tf.mul(embeddingLookup(ids, table), maskT);
      return matMulWeightT(codes, up);
    });
  }

  /** `s·(Aᵀ[ids]·Bᵀ)` for adapter `name`. */
  adapterDelta(ids: Tensor, name: string): Tensor {
    const a = this.lora_embedding_A.get(name)!;
    const b = this.lora_embedding_B.get(name)!;
    const { scaling } = this.info.get(name)!;
    return tf.tidy(() => tf.mul(matMulWeightT(embeddingLookup(ids, tf.transpose(a)), b), scaling));
  }

  /** `s·(B·A)ᵀ` in the table's `[num, dim]` layout, float32. */
  deltaWeight(name: string): Tensor {
    const { scaling } = this.info.get(name)!;
    return tf.tidy(() =>
      tf.mul(
        tf.transpose(tf.matMul(f32(this.lora_embedding_B.get(name)!), f32(this.lora_embedding_A.get(name)!))),
        scaling,
      ),
    );
  }

  override mergeAdapter(name: string, checkFinite: boolean): void {
    const newW = tf.tidy(() => tf.add(f32(this.weight), this.deltaWeight(name)));
    this.commitMerge(name, newW, null, checkFinite);
  }

  override unmergeAdapter(name: string): void {
    assignCast(
      this.weight,
      tf.tidy(() => tf.sub(f32(this.weight), this.deltaWeight(name))),
    );
    this.forgetMerge(name);
  }
}
