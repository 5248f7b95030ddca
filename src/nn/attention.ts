/**
 * Multi-head attention (PyTorch layout: separate `q_proj`, `k_proj`, `v_proj`, `out_proj` linears)
 * and the batched matMul it runs on.
 *
 * Formulation, measured on wasm (2-core EPYC, Node 20, tfjs 4.22) for B=16, H=4, T=128, dk=64, causal
 * mask, forward+backward of the attention core softmax(QKᵀ/√dk)·V; medians of 7, three runs on a shared
 * machine (absolute times moved ~2× with load; the ordering never changed):
 *   rank-4 `kernels.matMul` [B,H,T,dk]                        685–1241 ms
 *   rank-3 `kernels.matMul` [B·H,T,dk]                        877–1052 ms
 *   rank-3 built-in `tf.matMul(q, k, false, true)`            954–1023 ms
 *   per-matrix 2-D matMuls after `tf.unstack`                 378–1686 ms
 *   per-matrix 2-D matMuls after a heap-copy unstack (used)   122–241 ms (forward alone 38–67 ms)
 * Why: wasm routes a matMul to XNNPACK only when both operands have batch 1 and no transpose flag;
 * every batched product runs a scalar loop (~1.4 GFLOP/s whatever the rank or flags). Splitting
 * into 2-D products is fast, but wasm's `slice` (and so `unstack`/`split`) copies the whole input
 * per output, and `gather` costs ~60 ns per element, so the split uses a small registered kernel
 * that copies each matrix straight out of the wasm heap (backend/kernels/unstack-leading.ts).
 * With native kernels active (Node, system BLAS) every form of the product is fast, so none of this
 * applies: one batched matMul, transposes as BLAS flags.
 */
import { tf, type Tensor } from '../backend/tf.js';
import { transposeLast2 } from '../backend/kernels.js';
import { nativeKernelsActive } from '../backend/native.js';
import { canUnstackFromHeap, unstackFromHeap } from '../backend/kernels/unstack-leading.js';
import { softmaxLastAxis } from '../backend/kernels/softmax.js';
import { check } from '../errors.js';
import type { Rng } from '../rng.js';
import { dropout as dropoutFn, Linear } from './layers.js';
import { fmtShape, Module } from './module.js';

// ---------------------------------------------------------------------------------------------
// Batched matMul with fast 2-D products on wasm

/**
 * Below this many multiply-adds per matrix product, per-op overhead beats XNNPACK's speed-up
 * (measured crossover on wasm: about 24³; 32³ runs 2× faster per matrix, 8³ 20× slower).
 */
const MIN_WORK_PER_PRODUCT = 16384;

/** Untaped `a·b` for `[N,m,k]×[N,k,n]`: N 2-D products on wasm when worthwhile, else one batched op. */
function batchedProduct(a: Tensor, b: Tensor): Tensor {
  const [n, m, k] = a.shape as [number, number, number];
  const p = b.shape[2]!;
  if (nativeKernelsActive() || n === 1 || m * k * p < MIN_WORK_PER_PRODUCT || !canUnstackFromHeap()) return tf.matMul(a, b);
  return tf.tidy(() => {
    const as = unstackFromHeap(a);
    const bs = unstackFromHeap(b);
    const outs = as.map((ai, i) => tf.matMul(ai, bs[i]!));
    return tf.reshape(tf.concat(outs, 0), [n, m, p]);
  });
}

const batchedMatMulGrad = tf.customGrad(((a: Tensor, b: Tensor, save: (ts: Tensor[]) => void) => {
  save([a, b]);
  return {
    value: batchedProduct(a, b),
    gradFunc: (dy: Tensor, saved: Tensor[]) => {
      const [sa, sb] = saved as [Tensor, Tensor];
      // The BLAS takes transposes as flags; wasm is fast only on untransposed 2-D products.
      if (nativeKernelsActive()) return [tf.matMul(dy, sb, false, true), tf.matMul(sa, dy, true, false)];
      return [batchedProduct(dy, transposeLast2(sb)), batchedProduct(transposeLast2(sa), dy)];
    },
  };
}) as any) as unknown as (a: Tensor, b: Tensor) => Tensor;

/**
 * `a · b` for rank-3 operands `[N, m, k] × [N, k, n]` → `[N, m, n]`, differentiable.
 *
 * On wasm the product (and each gradient product, built with explicit transposes) runs as N
 * XNNPACK 2-D matMuls instead of the backend's scalar batched kernel: about 5× faster at
 * attention shapes (see the timings at the top of this file). Other backends use `tf.matMul`.
 */
export function batchedMatMul(a: Tensor, b: Tensor): Tensor {
  check(
    a.rank === 3 && b.rank === 3 && a.shape[0] === b.shape[0] && a.shape[2] === b.shape[1],
    'INVALID_INPUT',
    () => `batchedMatMul: expected [N, m, k] × [N, k, n], got ${fmtShape(a.shape)} × ${fmtShape(b.shape)}`,
  );
  return batchedMatMulGrad(a, b);
}

// ---------------------------------------------------------------------------------------------
// Constant masks

/** Additive value for masked scores inside {@link MultiHeadAttention}. */
export const ATTENTION_MASK_VALUE = -1e9;

const MASK_CACHE_LIMIT = 16;
const maskCache = new Map<string, Tensor>();

/**
 * The additive causal mask `[T1, T2]`: 0 where key j ≤ query i (top-left aligned, as PyTorch's
 * `is_causal`), `value` elsewhere. Built from a JS array (no comparison ops, no gradient path) and
 * cached (kept) per `(T1, T2, value)`; the cache holds at most 16 masks, shared by all layers.
 */
export function causalMask(t1: number, t2: number, value = ATTENTION_MASK_VALUE): Tensor {
  const key = `${t1}x${t2}:${value}`;
  const hit = maskCache.get(key);
  if (hit && !hit.isDisposed) return hit;
  const data = new Float32Array(t1 * t2);
  for (let i = 0; i < t1; i++) data.fill(value, i * t2 + i + 1, (i + 1) * t2);
  const mask = tf.keep(tf.tensor2d(data, [t1, t2]));
  if (maskCache.size >= MASK_CACHE_LIMIT) {
    const [oldKey, old] = maskCache.entries().next().value as [string, Tensor];
    maskCache.delete(oldKey);
    old.dispose();
  }
  maskCache.set(key, mask);
  return mask;
}

/** Disposes every cached causal mask (they are rebuilt on demand). */
export function clearAttentionMaskCache(): void {
  for (const t of maskCache.values()) t.dispose();
  maskCache.clear();
}

/**
 * `[B, T2]` key padding mask (bool or 0/1, nonzero = padding) → additive `[B, 1, 1, T2]` holding 0 or
 * `value`. No gradient flows through it.
 */
export function paddingMaskToAdditive(mask: Tensor, value = ATTENTION_MASK_VALUE): Tensor {
  return tf.tidy(() => {
    const pad = tf.cast(tf.notEqual(mask, 0), 'float32');
    return tf.reshape(tf.mul(pad, value), [mask.shape[0]!, 1, 1, mask.shape[1]!]);
  });
}

// ---------------------------------------------------------------------------------------------
// MultiHeadAttention

/** Options of {@link MultiHeadAttention}. */
export interface MultiHeadAttentionOptions {
  /** Model width D (input and output features). */
  dModel: number;
  /** Number of heads; must divide `dModel`. */
  nHead: number;
  /** Dropout on the attention probabilities (training only). Default 0. */
  dropout?: number;
  /** Biases on the four projections. Default true. */
  bias?: boolean;
  /** RNG for initialisation and dropout (default: the library RNG). */
  rng?: Rng;
}

/** Per-call masks of {@link MultiHeadAttention.forward}. */
export interface AttentionForwardOptions {
  /** `[B, T2]`, bool or 0/1: true (nonzero) marks a padded key that no query may attend to. */
  keyPaddingMask?: Tensor;
  /** Mask keys after the query position (key j > query i). */
  causal?: boolean;
  /** Additive float mask `[T1, T2]` or `[B or 1, 1, T1 or 1, T2]`, added to the scaled scores. */
  attnMask?: Tensor;
}

/**
 * Multi-head scaled dot-product attention as PyTorch's `nn.MultiheadAttention` with separate
 * projections (batch first). Children: `q_proj`, `k_proj`, `v_proj`, `out_proj` (Linear, weight
 * `[D, D]`); LoRA targets `q_proj`/`v_proj` by these names, and the forward looks the children up
 * by name, so a replaced child (`replaceModule`) takes effect.
 *
 * Forward: heads `[B, T, D] → [B·H, T, dk]`, `softmax(Q·Kᵀ/√dk + masks)`, dropout, `·V`, heads merged,
 * `out_proj`. Masked scores get {@link ATTENTION_MASK_VALUE}; a row whose keys are all masked
 * becomes uniform (never NaN).
 *
 * @example
 * ```ts
 * const mha = new MultiHeadAttention({ dModel: 64, nHead: 4 });
 * const y = mha.forward(x, x, x, { causal: true }); // [B, T, 64]
 * ```
 */
export class MultiHeadAttention extends Module {
  static override readonly typeName: string = 'MultiHeadAttention';
  readonly dModel: number;
  readonly nHead: number;
  /** Head width `dModel / nHead`. */
  readonly headDim: number;
  /** Attention-probability dropout. */
  readonly dropoutP: number;
  private readonly rng: Rng | undefined;

  constructor(options: MultiHeadAttentionOptions) {
    super();
    const { dModel, nHead } = options;
    const p = options.dropout ?? 0;
    check(
      Number.isInteger(dModel) && dModel >= 1,
      'INVALID_CONFIG',
      () => `MultiHeadAttention: dModel must be an integer ≥ 1, got ${JSON.stringify(dModel)}`,
      () => ({ field: 'dModel', value: dModel }),
    );
    check(
      Number.isInteger(nHead) && nHead >= 1,
      'INVALID_CONFIG',
      () => `MultiHeadAttention: nHead must be an integer ≥ 1, got ${JSON.stringify(nHead)}`,
      () => ({ field: 'nHead', value: nHead }),
    );
    check(
      dModel % nHead === 0,
      'INVALID_CONFIG',
      () => `MultiHeadAttention: dModel (${dModel}) is not divisible by nHead (${nHead})`,
      () => ({ field: 'nHead', value: nHead }),
    );
    check(
      typeof p === 'number' && p >= 0 && p <= 1,
      'INVALID_CONFIG',
      () => `MultiHeadAttention: dropout must be a probability in [0, 1], got ${JSON.stringify(p)}`,
      () => ({ field: 'dropout', value: p }),
    );
    this.dModel = dModel;
    this.nHead = nHead;
    this.headDim = dModel / nHead;
    this.dropoutP = p;
    this.rng = options.rng;
    const lin = { inFeatures: dModel, outFeatures: dModel, bias: options.bias ?? true, rng: options.rng };
    for (const name of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) this.registerModule(name, new Linear(lin));
  }

  /** Query projection (may be replaced, e.g. by a LoRA wrapper). */
  get q_proj(): Module {
    return this.getChild('q_proj')!;
  }
  /** Key projection. */
  get k_proj(): Module {
    return this.getChild('k_proj')!;
  }
  /** Value projection. */
  get v_proj(): Module {
    return this.getChild('v_proj')!;
  }
  /** Output projection. */
  get out_proj(): Module {
    return this.getChild('out_proj')!;
  }

  /**
   * `query [B, T1, D]`, `key` and `value [B, T2, D]` → `[B, T1, D]`. Masks from `opts` are summed
   * into one additive mask (built outside the gradient path).
   */
  override forward(query: Tensor, key: Tensor, value: Tensor, opts: AttentionForwardOptions = {}): Tensor {
    this.checkInputs(query, key, value);
    const [b, t1] = query.shape as [number, number, number];
    const t2 = key.shape[1]!;
    return tf.tidy(() => {
      const bias = this.additiveMask(b, t1, t2, opts);
      const q = tf.mul(this.q_proj.forward(query) as Tensor, 1 / Math.sqrt(this.headDim));
      const k = this.k_proj.forward(key) as Tensor;
      const v = this.v_proj.forward(value) as Tensor;
      return this.attend(q, k, v, bias);
    });
  }

  /**
   * `softmax(q·kᵀ + bias)·v` over the heads, then `out_proj`: `q [B, T1, D]` (already scaled by
   * 1/√dk), `k`, `v [B, T2, D]` (projected), `bias` additive and broadcasting to `[B, H, T1, T2]`, or
   * null. Shared by {@link forward} and the key/value-cached step (`kv-attention.ts`).
   */
  attend(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | null): Tensor {
    const [b, t1] = q.shape as [number, number, number];
    const t2 = k.shape[1]!;
    const h = this.nHead;
    const dk = this.headDim;
    // [B, T, D] → [B·H, T, dk]; keys go straight to [B·H, dk, T2] with one transpose.
    const qh = tf.reshape(tf.transpose(tf.reshape(q, [b, t1, h, dk]), [0, 2, 1, 3]), [b * h, t1, dk]);
    const kt = tf.reshape(tf.transpose(tf.reshape(k, [b, t2, h, dk]), [0, 2, 3, 1]), [b * h, dk, t2]);
    const vh = tf.reshape(tf.transpose(tf.reshape(v, [b, t2, h, dk]), [0, 2, 1, 3]), [b * h, t2, dk]);
    let scores = batchedMatMul(qh, kt);
    if (bias) scores = tf.reshape(tf.add(tf.reshape(scores, [b, h, t1, t2]), bias), [b * h, t1, t2]);
    const probs = dropoutFn(softmaxLastAxis(scores), this.dropoutP, this.training, this.rng);
    const ctx = batchedMatMul(probs, vh);
    const merged = tf.reshape(tf.transpose(tf.reshape(ctx, [b, h, t1, dk]), [0, 2, 1, 3]), [b, t1, this.dModel]);
    return this.out_proj.forward(merged) as Tensor;
  }

  private checkInputs(query: Tensor, key: Tensor, value: Tensor): void {
    const d = this.dModel;
    const ok3 = (t: Tensor) => t.rank === 3 && t.shape[2] === d;
    check(
      ok3(query),
      'INVALID_INPUT',
      () => `MultiHeadAttention: query must have shape [B, T1, ${d}], got ${fmtShape(query.shape)}`,
    );
    check(
      ok3(key),
      'INVALID_INPUT',
      () => `MultiHeadAttention: key must have shape [B, T2, ${d}], got ${fmtShape(key.shape)}`,
    );
    check(
      ok3(value),
      'INVALID_INPUT',
      () => `MultiHeadAttention: value must have shape [B, T2, ${d}], got ${fmtShape(value.shape)}`,
    );
    check(
      key.shape[0] === query.shape[0] && value.shape[0] === query.shape[0] && key.shape[1] === value.shape[1],
      'INVALID_INPUT',
      () =>
        `MultiHeadAttention: query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)} and value ${fmtShape(value.shape)} must share the batch size, and key and value the length`,
    );
  }

  /** Sum of the requested masks, broadcastable to `[B, H, T1, T2]`, or null when there is none. */
  private additiveMask(b: number, t1: number, t2: number, opts: AttentionForwardOptions): Tensor | null {
    const parts: Tensor[] = [];
    const { keyPaddingMask: pad, attnMask } = opts;
    if (pad) {
      check(
        pad.rank === 2 && pad.shape[0] === b && pad.shape[1] === t2,
        'INVALID_INPUT',
        () =>
          `MultiHeadAttention: keyPaddingMask must have shape [${b}, ${t2}] ([B, T2]), got ${fmtShape(pad.shape)}`,
      );
      parts.push(paddingMaskToAdditive(pad));
    }
    if (opts.causal) parts.push(causalMask(t1, t2));
    if (attnMask) {
      const s = attnMask.shape;
      const ok =
        attnMask.dtype === 'float32' &&
        ((attnMask.rank === 2 && s[0] === t1 && s[1] === t2) ||
          (attnMask.rank === 4 &&
            (s[0] === 1 || s[0] === b) &&
            s[1] === 1 &&
            (s[2] === 1 || s[2] === t1) &&
            s[3] === t2));
      check(
        ok,
        'INVALID_INPUT',
        () =>
          `MultiHeadAttention: attnMask must be an additive float32 mask of shape [${t1}, ${t2}] or [${b} or 1, 1, ${t1} or 1, ${t2}], got ${attnMask.dtype} ${fmtShape(s)}`,
      );
      parts.push(attnMask);
    }
    if (parts.length === 0) return null;
    return parts.reduce((acc, m) => tf.add(acc, m));
  }
}
