/**
 * Multi-head attention (PyTorch layout: separate `q_proj`, `k_proj`, `v_proj`, `out_proj` linears).
 * Its batched products run on `batchedMatMul` (backend/kernels/batched-mat-mul.ts: N fast 2-D
 * products on wasm, one BLAS call with native kernels).
 */
import { tf, type Tensor } from '../backend/tf.js';
import { batchedMatMul } from '../backend/kernels/batched-mat-mul.js';
import { nativeKernelsActive } from '../backend/native.js';
import { softmaxLastAxis } from '../backend/kernels/softmax.js';
import { check } from '../errors.js';
import type { Rng } from '../rng.js';
import { dropout as dropoutFn, Linear } from './layers.js';
import { fmtShape, Module } from './module.js';

/** @deprecated Kept for compatibility: import it from `backend/kernels/batched-mat-mul.js`. */
export { batchedMatMul };

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
  /**
   * Learned keys and values prepended to the projected keys and values (prefix tuning). The masks
   * above cover only the real keys: prefix positions are visible to every query.
   */
  prefix?: AttentionPrefix;
}

/**
 * Keys and values prepended to an attention's own (prefix tuning): `k`, `v` `[P, D]` shared by
 * every row, or `[B, P, D]`, in the space of the `k_proj`/`v_proj` outputs (heads not yet split, as
 * PEFT's `past_key_values` before the head reshape).
 */
export interface AttentionPrefix {
  k: Tensor;
  v: Tensor;
}

/**
 * `prefix` broadcast to `b` rows and put before `k` and `v` `[B, T2, D]`: the keys and values
 * `[B, P + T2, D]` prefix tuning attends over.
 */
export function prependPrefix(
  k: Tensor,
  v: Tensor,
  prefix: AttentionPrefix,
  where = 'MultiHeadAttention',
): { k: Tensor; v: Tensor } {
  const [b, , d] = k.shape as [number, number, number];
  const ok = (t: Tensor) =>
    (t.rank === 2 && t.shape[1] === d) || (t.rank === 3 && t.shape[0] === b && t.shape[2] === d);
  check(
    ok(prefix.k) && ok(prefix.v) && prefix.k.shape.join() === prefix.v.shape.join(),
    'INVALID_INPUT',
    () =>
      `${where}: prefix keys and values must both be [P, ${d}] or [${b}, P, ${d}], got ${fmtShape(prefix.k.shape)} and ${fmtShape(prefix.v.shape)}`,
  );
  const rows = (t: Tensor) => (t.rank === 3 ? t : tf.tile(tf.expandDims(t, 0), [b, 1, 1]));
  return { k: tf.concat([rows(prefix.k), k], 1), v: tf.concat([rows(prefix.v), v], 1) };
}

/**
 * An additive mask over real keys (last axis T2) widened with `p` zero columns in front: prefix
 * positions are never masked. Null stays null.
 */
export function maskWithPrefix(bias: Tensor | null, p: number): Tensor | null {
  if (!bias || p === 0) return bias;
  const shape = [...bias.shape];
  shape[shape.length - 1] = p;
  return tf.concat([tf.zeros(shape), bias], bias.rank - 1);
}

/**
 * Multi-head scaled dot-product attention as PyTorch's `nn.MultiheadAttention` with separate
 * projections (batch first). Children: `q_proj`, `k_proj`, `v_proj`, `out_proj` (Linear, weight
 * `[D, D]`); LoRA targets `q_proj`/`v_proj` by these names, and the forward looks the children up
 * by name, so a replaced child (`replaceModule`) takes effect.
 *
 * Forward: heads `[B, T, D] → [B·H, T, dk]`, `softmax(Q·Kᵀ/√dk + masks)`, dropout, `·V`, heads merged,
 * `out_proj`. With `opts.prefix` (prefix tuning), its keys and values come before the projected
 * ones and no mask applies to them. Masked scores get {@link ATTENTION_MASK_VALUE}; a row whose keys are all masked
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
      if (!opts.prefix) return this.attend(q, k, v, bias);
      // Prefix tuning: learned keys and values in front of the real ones, never masked.
      const kv = prependPrefix(k, v, opts.prefix);
      return this.attend(q, kv.k, kv.v, maskWithPrefix(bias, kv.k.shape[1]! - t2));
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
    // [B, T, D] → [B·H, T, dk]. On wasm keys go straight to [B·H, dk, T2] with one transpose (its
    // products are fast only untransposed); with native kernels the BLAS takes kᵀ as a flag.
    const split = (x: Tensor, t: number) =>
      tf.reshape(tf.transpose(tf.reshape(x, [b, t, h, dk]), [0, 2, 1, 3]), [b * h, t, dk]);
    const qh = split(q, t1);
    const vh = split(v, t2);
    let scores = nativeKernelsActive()
      ? tf.matMul(qh, split(k, t2), false, true)
      : batchedMatMul(
          qh,
          tf.reshape(tf.transpose(tf.reshape(k, [b, t2, h, dk]), [0, 2, 3, 1]), [b * h, dk, t2]),
        );
    if (bias) scores = tf.reshape(tf.add(tf.reshape(scores, [b, h, t1, t2]), bias), [b * h, t1, t2]);
    const probs = dropoutFn(softmaxLastAxis(scores), this.dropoutP, this.training, this.rng);
    const ctx = batchedMatMul(probs, vh);
    const merged = tf.reshape(tf.transpose(tf.reshape(ctx, [b, h, t1, dk]), [0, 2, 1, 3]), [
      b,
      t1,
      this.dModel,
    ]);
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
