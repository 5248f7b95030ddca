/**
 * Gradient clipping by global norm, as PyTorch's `torch.nn.utils.clip_grad_norm_`.
 */
import { tf, type Tensor } from '../backend/tf.js';
import { check } from '../errors.js';

/**
 * Gradients in any of the shapes the library passes around: an array, a Map (keyed by variable or path)
 * or a plain object (what `tf.variableGrads` returns). `null` entries (no gradient) are allowed and
 * passed through.
 */
export type GradientContainer =
  | ReadonlyArray<Tensor | null>
  | ReadonlyMap<unknown, Tensor | null>
  | Readonly<Record<string, Tensor | null>>;

/** Options of {@link clipGradNorm}. */
export interface ClipGradNormOptions {
  /** The p of the p-norm (p ≥ 1) or `Infinity`. Default 2. */
  normType?: number;
  /** Added to the norm in the clip coefficient `maxNorm / (norm + eps)`. Default 1e-6, as PyTorch. */
  eps?: number;
}

/** What {@link clipGradNorm} returns. */
export interface ClipGradNormResult<G> {
  /** New gradient tensors, same container kind and keys as the input; the caller owns (disposes) them. */
  grads: G;
  /** The total norm of the gradients before clipping (what `clip_grad_norm_` returns). */
  totalNorm: number;
  /** The factor every gradient was multiplied by: `min(maxNorm / (totalNorm + eps), 1)`. */
  clipCoef: number;
}

function entriesOf(grads: GradientContainer): Array<Tensor | null> {
  if (Array.isArray(grads)) return [...(grads as ReadonlyArray<Tensor | null>)];
  if (grads instanceof Map) return [...(grads as ReadonlyMap<unknown, Tensor | null>).values()];
  return Object.values(grads as Record<string, Tensor | null>);
}

function mapContainer<G extends GradientContainer>(grads: G, f: (t: Tensor) => Tensor): G {
  const g = (t: Tensor | null) => (t === null || t === undefined ? null : f(t));
  if (Array.isArray(grads)) return (grads as ReadonlyArray<Tensor | null>).map(g) as unknown as G;
  if (grads instanceof Map) {
    const out = new Map<unknown, Tensor | null>();
    for (const [k, t] of grads as ReadonlyMap<unknown, Tensor | null>) out.set(k, g(t));
    return out as unknown as G;
  }
  const out: Record<string, Tensor | null> = {};
  for (const [k, t] of Object.entries(grads as Record<string, Tensor | null>)) out[k] = g(t);
  return out as G;
}

/** What {@link clipGradNormOnDevice} returns: the same as {@link ClipGradNormResult}, with the scalars left on the device. */
export interface ClipGradNormTensors<G> {
  /** New gradient tensors, same container kind and keys as the input; the caller owns (disposes) them. */
  grads: G;
  /** The total norm before clipping, a 0-d tensor the caller owns (read it with `await t.data()`). */
  totalNorm: tf.Scalar;
  /** The factor every gradient was multiplied by, a 0-d tensor the caller owns. */
  clipCoef: tf.Scalar;
}

/**
 * {@link clipGradNorm} without reading anything back from the device: the total norm and the clip
 * coefficient stay tensors, and the scaling happens on the device. This is what a training loop on
 * webgl or webgpu wants (a synchronous read per step stalls the GPU pipeline, and on webgpu breaks it);
 * read the norm later with `await totalNorm.data()`. Same numbers as {@link clipGradNorm}.
 *
 * @example
 * ```ts
 * const { grads: clipped, totalNorm, clipCoef } = clipGradNormOnDevice(grads, 1.0);
 * optimizer.step(clipped);
 * const norm = (await totalNorm.data())[0];
 * tf.dispose([totalNorm, clipCoef]);
 * ```
 */
export function clipGradNormOnDevice<G extends GradientContainer>(
  grads: G,
  maxNorm: number,
  options: ClipGradNormOptions = {},
): ClipGradNormTensors<G> {
  const p = options.normType ?? 2;
  const eps = options.eps ?? 1e-6;
  check(
    typeof maxNorm === 'number' && maxNorm > 0 && !Number.isNaN(maxNorm),
    'INVALID_CONFIG',
    () => `clipGradNorm: maxNorm must be a number > 0, got ${maxNorm}`,
    () => ({ field: 'maxNorm', value: maxNorm }),
  );
  check(
    typeof p === 'number' && (p === Infinity || (Number.isFinite(p) && p >= 1)),
    'INVALID_CONFIG',
    () => `clipGradNorm: normType must be a number ≥ 1 or Infinity, got ${p}`,
    () => ({ field: 'normType', value: p }),
  );
  check(
    typeof eps === 'number' && Number.isFinite(eps) && eps >= 0,
    'INVALID_CONFIG',
    () => `clipGradNorm: eps must be a finite number ≥ 0, got ${eps}`,
    () => ({ field: 'eps', value: eps }),
  );
  const tensors = entriesOf(grads).filter((t): t is Tensor => t !== null && t !== undefined);
  for (const t of tensors) {
    check(
      t instanceof tf.Tensor && !t.isDisposed,
      'INVALID_INPUT',
      () => 'clipGradNorm: every gradient must be a live tensor',
    );
  }
  if (tensors.length === 0) {
    return { grads: mapContainer(grads, (t) => t), totalNorm: tf.scalar(0), clipCoef: tf.scalar(1) };
  }
  const [totalT, coefT] = tf.tidy(() => {
    const norms = tensors.map((t) => {
      const a = tf.abs(tf.cast(t, 'float32'));
      if (p === Infinity) return t.size === 0 ? tf.scalar(0) : tf.max(a);
      if (p === 1) return tf.sum(a);
      if (p === 2) return tf.sqrt(tf.sum(tf.square(a)));
      return tf.pow(tf.sum(tf.pow(a, p)), 1 / p);
    });
    const stacked = tf.stack(norms);
    let total: Tensor;
    if (p === Infinity) total = tf.max(stacked);
    else if (p === 1) total = tf.sum(stacked);
    else if (p === 2) total = tf.sqrt(tf.sum(tf.square(stacked)));
    else total = tf.pow(tf.sum(tf.pow(stacked, p)), 1 / p);
    const coef = tf.minimum(tf.div(tf.scalar(maxNorm), tf.add(total, eps)), 1);
    return [total, coef] as [tf.Scalar, tf.Scalar];
  });
  const out = mapContainer(grads, (t) => tf.tidy(() => tf.mul(t, coefT)));
  return { grads: out, totalNorm: totalT, clipCoef: coefT };
}

/**
 * Clips gradients by their global norm, with `torch.nn.utils.clip_grad_norm_` (PyTorch 1.13) semantics:
 * the total norm is the p-norm of the vector of per-tensor p-norms (for p = 2, the L2 norm over every
 * element of every gradient together), the clip coefficient is `maxNorm / (total + 1e-6)` clamped at 1,
 * and every gradient is multiplied by it (by 1, i.e. unchanged, when the total is within `maxNorm`).
 *
 * TensorFlow.js tensors are immutable, so instead of clipping in place this returns new tensors (always
 * new, clipped or not) in a container of the same kind; the input gradients are not disposed. The norm is
 * read back synchronously; on webgl or webgpu prefer {@link clipGradNormOnDevice}.
 *
 * @example
 * ```ts
 * const { value, grads } = tf.variableGrads(lossFn, model.trainableParameters());
 * const { grads: clipped, totalNorm } = clipGradNorm(grads, 1.0);
 * ```
 */
export function clipGradNorm<G extends GradientContainer>(
  grads: G,
  maxNorm: number,
  options: ClipGradNormOptions = {},
): ClipGradNormResult<G> {
  const r = clipGradNormOnDevice(grads, maxNorm, options);
  try {
    return { grads: r.grads, totalNorm: r.totalNorm.dataSync()[0]!, clipCoef: r.clipCoef.dataSync()[0]! };
  } finally {
    r.totalNorm.dispose();
    r.clipCoef.dispose();
  }
}
