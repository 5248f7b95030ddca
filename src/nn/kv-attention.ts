/**
 * Incremental (key/value-cached) self-attention: the new positions' queries attend over the keys and
 * values kept from earlier steps plus their own, so a decoding step projects only the new tokens.
 */
import { tf, type Tensor } from '../backend/tf.js';
import { check } from '../errors.js';
import { maskWithPrefix, prependPrefix, type AttentionPrefix, type MultiHeadAttention } from './attention.js';
import { fmtShape } from './module.js';

/** Keys and values of earlier positions, as the projections returned them (heads not yet split). */
export interface PastKeyValues {
  /** `[B, P, D]`: `k_proj` outputs of the P earlier positions of each row (padded rows masked). */
  k: Tensor;
  /** `[B, P, D]`: `v_proj` outputs. */
  v: Tensor;
}

/** What {@link selfAttentionWithPast} returns. */
export interface AttentionStep {
  /** `[B, T, D]` attention output (after `out_proj`). */
  out: Tensor;
  /** `[B, T, D]` keys of the new positions, to append to the cache. */
  k: Tensor;
  /** `[B, T, D]` values of the new positions. */
  v: Tensor;
}

/**
 * Self-attention of `x [B, T, D]` (the new positions) over `past` (or nothing) and itself, in eval
 * mode (no dropout). `mask` is an additive `[B, 1, T, P + T]` mask (0 = attend) covering past and new
 * keys; null means every key is visible. The caller builds it (causality among the new positions,
 * padding of shorter rows in the past).
 *
 * The projections are looked up by name (so LoRA wrappers run) and the attention itself is
 * {@link MultiHeadAttention.attend}, the same code {@link MultiHeadAttention.forward} runs. A
 * `prefix` (prefix tuning) goes in front of the past keys and values, unmasked; it is not cached.
 */
export function selfAttentionWithPast(
  mha: MultiHeadAttention,
  x: Tensor,
  past: PastKeyValues | null,
  mask: Tensor | null,
  prefix?: AttentionPrefix,
): AttentionStep {
  const [b, , d] = x.shape as [number, number, number];
  check(
    x.rank === 3 && d === mha.dModel,
    'INVALID_INPUT',
    () => `selfAttentionWithPast: x must be [B, T, ${mha.dModel}], got ${fmtShape(x.shape)}`,
  );
  if (past) {
    check(
      past.k.rank === 3 &&
        past.k.shape[0] === b &&
        past.k.shape[2] === d &&
        past.v.shape.join() === past.k.shape.join(),
      'INVALID_INPUT',
      () =>
        `selfAttentionWithPast: past keys and values must both be [${b}, P, ${d}], got ${fmtShape(past.k.shape)} and ${fmtShape(past.v.shape)}`,
    );
  }
  return tf.tidy(() => {
    const q = tf.mul(mha.q_proj.forward(x) as Tensor, 1 / Math.sqrt(mha.headDim));
    const kNew = mha.k_proj.forward(x) as Tensor;
    const vNew = mha.v_proj.forward(x) as Tensor;
    const k = past ? tf.concat([past.k, kNew], 1) : kNew;
    const v = past ? tf.concat([past.v, vNew], 1) : vNew;
    if (!prefix) return { out: mha.attend(q, k, v, mask), k: kNew, v: vNew };
    const kv = prependPrefix(k, v, prefix, 'selfAttentionWithPast');
    const out = mha.attend(q, kv.k, kv.v, maskWithPrefix(mask, kv.k.shape[1]! - k.shape[1]!));
    return { out, k: kNew, v: vNew };
  });
}
