/**
 * Training losses with PyTorch semantics: cross-entropy (per token, mean over unpadded positions, bits per
 * character) and mean squared error. Everything that decides which positions count is built from the
 * inputs' values as constant tensors, outside any differentiated path: TensorFlow.js has no gradient for
 * comparisons, and `gather`'s gradient is missing on wasm, so targets are picked with `oneHot · logits`.
 */
import { tf, type Tensor } from '../backend/tf.js';
import { check } from '../errors.js';
import { fmtShape } from '../nn/module.js';
import { heapKernelActive } from '../backend/kernels/heap-kernels.js';
import { nativeSoftmaxCrossEntropy } from '../backend/kernels/cross-entropy.js';

/** Options shared by the cross-entropy functions. */
export interface CrossEntropyOptions {
  /**
   * Padding mask with the targets' shape: true / non-zero = padding (the position is excluded). Any
   * dtype; read as constant data, never differentiated.
   */
  mask?: Tensor | null;
  /**
   * Positions whose target equals this id are excluded too (PyTorch's `ignore_index`). Default -100, as
   * PyTorch; such targets never need to be valid class ids.
   */
  ignoreIndex?: number;
}

/** The third argument of the cross-entropy functions: a padding mask, or options. */
export type MaskOrOptions = Tensor | CrossEntropyOptions | null | undefined;

function toOptions(m: MaskOrOptions): CrossEntropyOptions {
  if (m === null || m === undefined) return {};
  if (m instanceof tf.Tensor) return { mask: m };
  return m;
}

interface Prepared {
  /** logits as [N, V] float32. */
  logits2d: Tensor;
  /** constant [N, V] float32 one-hot of the targets (zero rows at excluded positions); absent with native kernels. */
  oneHot: Tensor | undefined;
  /** constant [N] int32 target ids, −1 at excluded positions. */
  ids: Tensor;
  /** constant [N] float32: 1 = counted, 0 = excluded. */
  weights: Tensor;
  /** number of counted positions. */
  count: number;
  /** shape of the targets (= logits shape without the last axis). */
  targetShape: number[];
}

/**
 * Validates shapes and ids and builds the constant tensors. Reads targets and mask synchronously (they
 * are small integer tensors); an id outside [0, V) at a counted position is `INVALID_INPUT`, as PyTorch
 * raises.
 */
function prepare(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions, where: string): Prepared {
  check(logits instanceof tf.Tensor, 'INVALID_INPUT', () => `${where}: logits must be a tensor`);
  check(targets instanceof tf.Tensor, 'INVALID_INPUT', () => `${where}: targets must be a tensor`);
  check(
    logits.rank >= 2,
    'INVALID_INPUT',
    () => `${where}: logits must have rank ≥ 2 ([N, V] or [B, T, V]), got shape ${fmtShape(logits.shape)}`,
  );
  const v = logits.shape[logits.rank - 1]!;
  const targetShape = logits.shape.slice(0, -1);
  check(
    targets.shape.length === targetShape.length && targets.shape.every((d, i) => d === targetShape[i]),
    'INVALID_INPUT',
    () =>
      `${where}: targets must have shape ${fmtShape(targetShape)} (logits ${fmtShape(logits.shape)} without the class axis), got ${fmtShape(targets.shape)}`,
  );
  check(
    targets.dtype === 'int32',
    'INVALID_INPUT',
    () => `${where}: targets must be an int32 tensor of class ids, got dtype ${targets.dtype}`,
  );
  const mask = opts.mask ?? null;
  if (mask !== null) {
    check(
      mask instanceof tf.Tensor &&
        mask.shape.length === targetShape.length &&
        mask.shape.every((d, i) => d === targetShape[i]),
      'INVALID_INPUT',
      () =>
        `${where}: mask must be a tensor of shape ${fmtShape(targetShape)}, got ${mask instanceof tf.Tensor ? fmtShape(mask.shape) : typeof mask}`,
    );
  }
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const ids = targets.dataSync() as Int32Array;
  const maskData = mask === null ? null : mask.dataSync();
  const n = ids.length;
  const w = new Float32Array(n);
  const hotIds = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const padded = (maskData !== null && Number(maskData[i]) !== 0) || ids[i] === ignoreIndex;
    if (padded) {
      hotIds[i] = -1; // oneHot of -1 is an all-zero row
      continue;
    }
    const id = ids[i]!;
    check(
      id >= 0 && id < v,
      'INVALID_INPUT',
      () =>
        `${where}: target id ${id} at flat position ${i} is outside [0, ${v}) (the class axis of logits ${fmtShape(logits.shape)})`,
      () => ({ position: i, id, classes: v }),
    );
    hotIds[i] = id;
    w[i] = 1;
    count++;
  }
  const native = heapKernelActive('crossEntropy');
  return tf.tidy(() => ({
    logits2d: tf.reshape(tf.cast(logits, 'float32'), [n, v]),
    oneHot: native ? undefined : tf.cast(tf.oneHot(tf.tensor1d(hotIds, 'int32'), v), 'float32'),
    ids: tf.tensor1d(hotIds, 'int32'),
    weights: tf.tensor1d(w, 'float32'),
    count,
    targetShape,
  }));
}

/**
 * Stable `log Σ exp(x)` over the last axis of a rank-2 tensor: `max + log Σ exp(x − max)`.
 */
function logSumExpRows(x: Tensor): Tensor {
  const m = tf.max(x, -1, true);
  return tf.add(tf.reshape(m, [-1]), tf.log(tf.sum(tf.exp(tf.sub(x, m)), -1)));
}

/** nll per flat position, already multiplied by the 0/1 weights: [N]. */
function weightedNll(p: Prepared): Tensor {
  if (!p.oneHot) return nativeSoftmaxCrossEntropy(p.logits2d, p.ids);
  const lse = logSumExpRows(p.logits2d);
  const picked = tf.sum(tf.mul(p.logits2d, p.oneHot), -1);
  return tf.mul(tf.sub(lse, picked), p.weights);
}

function disposePrepared(p: Prepared): void {
  p.logits2d.dispose();
  p.oneHot?.dispose();
  p.ids.dispose();
  p.weights.dispose();
}

/**
 * Negative log-likelihood per position in nats, `logsumexp(logits) − logits[target]`, with 0 at padded
 * (and ignored) positions. Shape: the targets' shape. Differentiable with respect to `logits`.
 *
 * @example
 * ```ts
 * const nll = tokenNll(logits, targets, { mask }); // [B, T]
 * ```
 */
export function tokenNll(logits: Tensor, targets: Tensor, maskOrOptions?: MaskOrOptions): Tensor {
  const p = prepare(logits, targets, toOptions(maskOrOptions), 'tokenNll');
  try {
    return tf.tidy(() => tf.reshape(weightedNll(p), p.targetShape));
  } finally {
    disposePrepared(p);
  }
}

/**
 * Mean cross-entropy in nats over the counted positions (the third argument is a padding mask, true = padding,
 * or {@link CrossEntropyOptions}): logits `[N, V]` with targets `[N]`, or
 * `[B, T, V]` with `[B, T]` (any rank ≥ 2). Same as PyTorch's `F.cross_entropy(logits.reshape(-1, V),
 * targets, ignore_index, reduction='mean')` with padded positions set to `ignore_index`: the mean is over
 * unpadded positions, not over every position. The log-sum-exp is stable for large logits.
 * Differentiable with respect to `logits`. Every position masked → `INVALID_INPUT` (PyTorch returns NaN).
 *
 * @example
 * ```ts
 * const loss = crossEntropy(model.forward(x), targets, padMask); // 0-d; same as { mask: padMask }
 * ```
 */
export function crossEntropy(logits: Tensor, targets: Tensor, maskOrOptions?: MaskOrOptions): tf.Scalar {
  const p = prepare(logits, targets, toOptions(maskOrOptions), 'crossEntropy');
  try {
    check(
      p.count > 0,
      'INVALID_INPUT',
      () =>
        `crossEntropy: every one of the ${p.weights.size} positions is padding or ignored; the mean is undefined`,
    );
    return tf.tidy(() => tf.div(tf.sum(weightedNll(p)), p.count) as tf.Scalar);
  } finally {
    disposePrepared(p);
  }
}

/**
 * Bits per character (per token): {@link crossEntropy} in nats divided by ln 2. Differentiable.
 *
 * @example
 * ```ts
 * const bpc = bitsPerChar(logits, targets, { mask }).dataSync()[0];
 * ```
 */
export function bitsPerChar(logits: Tensor, targets: Tensor, maskOrOptions?: MaskOrOptions): tf.Scalar {
  return tf.tidy(() => tf.div(crossEntropy(logits, targets, maskOrOptions), Math.LN2) as tf.Scalar);
}

/** Converts a loss in nats (a number) to bits. */
export function natsToBits(nats: number): number {
  return nats / Math.LN2;
}

/**
 * Mean squared error over every element, PyTorch's `F.mse_loss(pred, target, reduction='mean')`.
 *
 * @example
 * ```ts
 * const loss = mseLoss(model.forward(x), y);
 * ```
 */
export function mseLoss(pred: Tensor, target: Tensor): tf.Scalar {
  check(
    pred.shape.length === target.shape.length && pred.shape.every((d, i) => d === target.shape[i]),
    'INVALID_INPUT',
    () =>
      `mseLoss: pred ${fmtShape(pred.shape)} and target ${fmtShape(target.shape)} must have the same shape`,
  );
  check(pred.size > 0, 'INVALID_INPUT', () => 'mseLoss: empty input; the mean is undefined');
  return tf.tidy(() => tf.mean(tf.square(tf.sub(pred, tf.cast(target, pred.dtype)))) as tf.Scalar);
}
