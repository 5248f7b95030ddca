/**
 * Batching of encoded text: random training windows and exact evaluation windows for language modelling,
 * and padded batches for classification. Everything is a flat, row-major typed array plus its shape; no
 * TensorFlow.js here (`tf.tensor2d(b.inputs, b.shape, 'int32')` makes a tensor).
 *
 * Masks use `1 = padding`, `0 = real token` throughout.
 */
import { check, describeValue } from '../errors.js';
import type { Rng } from '../rng.js';
import { PAD_ID } from './vocab.js';

/** A training batch for next-character prediction. Arrays are row-major `[batch, seqLen]`. */
export interface LmBatch {
  /** `inputs[r·seqLen + t] = ids[starts[r] + t]`. */
  inputs: Int32Array;
  /** `targets[r·seqLen + t] = ids[starts[r] + t + 1]` (inputs shifted left by one). */
  targets: Int32Array;
  /** Start offset in `ids` of each row. */
  starts: Int32Array;
  batch: number;
  seqLen: number;
  /** `[batch, seqLen]`. */
  shape: [number, number];
}

/** One batch of evaluation windows. Arrays are row-major `[batch, seqLen]`; padding is `padId`. */
export interface LmEvalBatch {
  inputs: Int32Array;
  targets: Int32Array;
  /** 1 where the position is padding (no target), 0 where `targets` holds a real next character. */
  mask: Uint8Array;
  /** Rows holding at least one real target (the remaining rows are all padding). */
  rows: number;
  /** Number of real targets in this batch (zeros in `mask`). */
  numTargets: number;
  /** Offset in `ids` of the first input of the batch. */
  start: number;
  batch: number;
  seqLen: number;
  /** `[batch, seqLen]`. */
  shape: [number, number];
}

/** A padded batch of variable-length sequences, row-major `[batch, seqLen]`. */
export interface PaddedBatch {
  ids: Int32Array;
  /** 1 = padding, 0 = token. */
  mask: Uint8Array;
  /** Real (possibly truncated) length of each row. */
  lengths: Int32Array;
  batch: number;
  seqLen: number;
  /** `[batch, seqLen]`. */
  shape: [number, number];
}

function checkPositiveInt(value: number, what: string, where: string): void {
  check(
    Number.isInteger(value) && value >= 1,
    'INVALID_CONFIG',
    () => `${where}: ${what} must be a positive integer, got ${describeValue(value)}`,
    () => ({ [what]: value }),
  );
}

/**
 * Samples `batch` windows of `seqLen + 1` consecutive ids uniformly at random (with replacement) and returns
 * them as inputs and next-character targets. Deterministic for a given `rng` state: one `rng.next()` per row.
 *
 * @param ids - The encoded training text.
 * @param batch - Rows per batch.
 * @param seqLen - Positions per row.
 * @param rng - The generator (e.g. `createRng(seed)` from `../rng.js`); row `r` starts at
 *   `floor(rng.next() · (ids.length − seqLen))`.
 * @returns {@link LmBatch}.
 * @throws AdapterError `INVALID_CONFIG` if `batch` or `seqLen` is not a positive integer; `INVALID_INPUT` if
 *   `ids` is shorter than `seqLen + 1`.
 */
export function sampleLmBatch(ids: Int32Array, batch: number, seqLen: number, rng: Rng): LmBatch {
  checkPositiveInt(batch, 'batch', 'sampleLmBatch');
  checkPositiveInt(seqLen, 'seqLen', 'sampleLmBatch');
  const span = ids.length - seqLen;
  check(
    span >= 1,
    'INVALID_INPUT',
    () =>
      `sampleLmBatch: text of ${ids.length} ids is too short for seqLen ${seqLen} (needs at least ${seqLen + 1})`,
    () => ({ length: ids.length, seqLen }),
  );
  const inputs = new Int32Array(batch * seqLen);
  const targets = new Int32Array(batch * seqLen);
  const starts = new Int32Array(batch);
  for (let r = 0; r < batch; r++) {
    const s = Math.min(span - 1, Math.floor(rng.next() * span));
    starts[r] = s;
    inputs.set(ids.subarray(s, s + seqLen), r * seqLen);
    targets.set(ids.subarray(s + 1, s + seqLen + 1), r * seqLen);
  }
  return { inputs, targets, starts, batch, seqLen, shape: [batch, seqLen] };
}

/**
 * Number of next-character predictions in a text of `length` ids: every id except the first is a target
 * exactly once in {@link evalLmWindows}, so bits-per-character = (sum of −log₂ p over targets) / this.
 *
 * @param length - Number of ids.
 * @returns `max(0, length − 1)`.
 */
export function countLmTargets(length: number): number {
  return Math.max(0, length - 1);
}

/**
 * Number of batches {@link evalLmWindows} yields.
 *
 * @param length - Number of ids.
 * @param seqLen - Positions per window.
 * @param batch - Windows per batch.
 * @returns `ceil(ceil((length − 1) / seqLen) / batch)` (0 for texts shorter than 2 ids).
 */
export function countLmEvalBatches(length: number, seqLen: number, batch: number): number {
  return Math.ceil(Math.ceil(countLmTargets(length) / seqLen) / batch);
}

/**
 * Cuts a text into contiguous, non-overlapping windows for exact evaluation: window `w` has inputs
 * `ids[w·seqLen … w·seqLen + seqLen)` and targets one position later, so every id except the first is a
 * target exactly once. The last window is padded (`padId`, mask 1) where the text runs out, and the last batch
 * is filled up with all-padding rows, so every batch has the fixed shape `[batch, seqLen]`.
 *
 * Each window is evaluated without context from the previous one (the first target of a window is predicted
 * from one character); this is the standard non-overlapping protocol, not a sliding window.
 *
 * @param ids - The encoded held-out text.
 * @param seqLen - Positions per window.
 * @param batch - Windows per batch.
 * @param padId - Id written into padding positions (default {@link PAD_ID} = 0).
 * @returns A generator of {@link LmEvalBatch}, {@link countLmEvalBatches} of them.
 * @throws AdapterError `INVALID_CONFIG` (at the call, not on the first `next()`) if `batch` or `seqLen` is not
 *   a positive integer.
 */
export function evalLmWindows(
  ids: Int32Array,
  seqLen: number,
  batch: number,
  padId: number = PAD_ID,
): Generator<LmEvalBatch, void, undefined> {
  checkPositiveInt(seqLen, 'seqLen', 'evalLmWindows');
  checkPositiveInt(batch, 'batch', 'evalLmWindows');
  return evalWindows(ids, seqLen, batch, padId);
}

function* evalWindows(
  ids: Int32Array,
  seqLen: number,
  batch: number,
  padId: number,
): Generator<LmEvalBatch, void, undefined> {
  const total = countLmTargets(ids.length);
  const perBatch = batch * seqLen;
  for (let start = 0; start < total; start += perBatch) {
    const inputs = new Int32Array(perBatch).fill(padId);
    const targets = new Int32Array(perBatch).fill(padId);
    const mask = new Uint8Array(perBatch).fill(1);
    const n = Math.min(perBatch, total - start);
    // Windows are contiguous, so one batch covers ids[start … start + n] with no gaps.
    inputs.set(ids.subarray(start, start + n));
    targets.set(ids.subarray(start + 1, start + n + 1));
    mask.fill(0, 0, n);
    yield {
      inputs,
      targets,
      mask,
      rows: Math.ceil(n / seqLen),
      numTargets: n,
      start,
      batch,
      seqLen,
      shape: [batch, seqLen],
    };
  }
}

/**
 * Pads (and, with `maxLen`, truncates) variable-length sequences into one batch, e.g. encoded e-mails for a
 * classifier. Sequences longer than `maxLen` keep their first `maxLen` ids.
 *
 * @param seqs - The sequences.
 * @param maxLen - Row length. Default: the longest sequence (at least 1, so an all-empty batch has shape
 *   `[batch, 1]`).
 * @param padId - Id written into padding positions (default {@link PAD_ID} = 0).
 * @returns {@link PaddedBatch}; `mask` is 1 exactly at positions `≥ lengths[r]` of row `r`.
 * @throws AdapterError `INVALID_CONFIG` if `maxLen` is given and not a positive integer.
 */
export function padBatch(seqs: readonly Int32Array[], maxLen?: number, padId: number = PAD_ID): PaddedBatch {
  if (maxLen !== undefined) checkPositiveInt(maxLen, 'maxLen', 'padBatch');
  let longest = 1;
  for (const s of seqs) longest = Math.max(longest, s.length);
  const seqLen = maxLen ?? longest;
  const batch = seqs.length;
  const ids = new Int32Array(batch * seqLen).fill(padId);
  const mask = new Uint8Array(batch * seqLen).fill(1);
  const lengths = new Int32Array(batch);
  seqs.forEach((s, r) => {
    const len = Math.min(s.length, seqLen);
    lengths[r] = len;
    ids.set(s.subarray(0, len), r * seqLen);
    mask.fill(0, r * seqLen, r * seqLen + len);
  });
  return { ids, mask, lengths, batch, seqLen, shape: [batch, seqLen] };
}

/**
 * A uniformly random permutation of `0 … n − 1` (Fisher–Yates), e.g. to shuffle classification examples
 * each epoch. Deterministic for a given `rng` state; uses `n − 1` draws.
 *
 * @param n - Number of items.
 * @param rng - The generator.
 * @returns The permutation.
 * @throws AdapterError `INVALID_CONFIG` if `n` is not a non-negative integer.
 */
export function permutation(n: number, rng: Rng): Int32Array {
  check(
    Number.isInteger(n) && n >= 0,
    'INVALID_CONFIG',
    () => `permutation: n must be a non-negative integer, got ${describeValue(n)}`,
  );
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(rng.next() * (i + 1)));
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}
