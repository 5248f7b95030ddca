/**
 * Language-model training and evaluation on character ids: batches from `data`, the masked
 * cross-entropy of `losses`, the {@link Trainer}. Bits per character are exact sums over targets,
 * never averages of batch means.
 */
import { tf } from '../backend/tf.js';
import { countLmEvalBatches, evalLmWindows, sampleLmBatch, type LmBatch } from '../data/batching.js';
import { check } from '../errors.js';
import type { Module } from '../nn/module.js';
import { createRng } from '../rng.js';
import { requirePathFiles } from '../io/path-files.js';
import { trainerCheckpointsIn } from '../train/checkpoint.js';
import { crossEntropy, tokenNll } from '../train/losses.js';
import { Trainer, type StepInfo, type TrainerOptions } from '../train/trainer.js';
import { recipeOptimization } from './optimization.js';

/** A model mapping int32 ids `[B, T]` to logits `[B, T, V]`. */
export interface LanguageModel extends Module {
  forward(ids: tf.Tensor): tf.Tensor;
}

/** Mean cross-entropy (nats) of a training batch. */
export function lmLoss(batch: LmBatch, model: Module): tf.Scalar {
  return tf.tidy(() => {
    const inputs = tf.tensor2d(batch.inputs, batch.shape, 'int32');
    const targets = tf.tensor2d(batch.targets, batch.shape, 'int32');
    return crossEntropy((model as LanguageModel).forward(inputs), targets);
  });
}

/** Options of {@link evaluateBpc}. */
export interface EvaluateBpcOptions {
  seqLen: number;
  batch: number;
  /**
   * Evaluate this many full windows at evenly spaced offsets across the text (a fixed,
   * deterministic sample) instead of every window. Default: every window, exactly once.
   */
  windows?: number;
}

/** Options of {@link evaluateBpcAsync}. */
export interface EvaluateBpcAsyncOptions extends EvaluateBpcOptions {
  /** Called after each batch with the batches done and the total (for progress displays). */
  onBatch?: (done: number, total: number) => void | Promise<void>;
}

/** Sum of next-character negative log-likelihoods (nats) and the number of targets. */
function nllSum(
  model: LanguageModel,
  inputs: Int32Array,
  targets: Int32Array,
  shape: [number, number],
  mask?: Uint8Array,
): number {
  return tf.tidy(() => {
    const m = mask ? tf.tensor2d(mask, shape, 'bool') : undefined;
    const nll = tokenNll(
      model.forward(tf.tensor2d(inputs, shape, 'int32')),
      tf.tensor2d(targets, shape, 'int32'),
      m,
    );
    return tf.sum(nll).dataSync()[0]!;
  });
}

/** One evaluation batch and how many targets it scores. */
interface BpcBatch {
  inputs: Int32Array;
  targets: Int32Array;
  shape: [number, number];
  mask?: Uint8Array;
  count: number;
}

/** The batches an evaluation scores, and how many there are. */
function bpcBatches(
  ids: Int32Array,
  opts: EvaluateBpcOptions,
): { total: number; batches: Iterable<BpcBatch> } {
  check(
    ids.length > opts.seqLen,
    'INVALID_INPUT',
    () => `evaluateBpc: the text (${ids.length} ids) is shorter than one window (${opts.seqLen + 1})`,
  );
  if (opts.windows === undefined) {
    const total = countLmEvalBatches(ids.length, opts.seqLen, opts.batch);
    const batches = (function* () {
      for (const b of evalLmWindows(ids, opts.seqLen, opts.batch)) yield { ...b, count: b.numTargets };
    })();
    return { total, batches };
  }
  const starts = evenlySpaced(ids.length - opts.seqLen - 1, opts.windows);
  const batches = (function* () {
    for (let i = 0; i < starts.length; i += opts.batch) {
      const rows = starts.slice(i, i + opts.batch);
      const inputs = new Int32Array(rows.length * opts.seqLen);
      const targets = new Int32Array(rows.length * opts.seqLen);
      rows.forEach((s, r) => {
        inputs.set(ids.subarray(s, s + opts.seqLen), r * opts.seqLen);
        targets.set(ids.subarray(s + 1, s + 1 + opts.seqLen), r * opts.seqLen);
      });
      yield { inputs, targets, shape: [rows.length, opts.seqLen] as [number, number], count: inputs.length };
    }
  })();
  return { total: Math.ceil(starts.length / opts.batch), batches };
}

/**
 * Bits per character of `model` on `ids`, in eval mode (modes restored afterwards). Every window is
 * evaluated without context from the previous one.
 */
export function evaluateBpc(model: LanguageModel, ids: Int32Array, opts: EvaluateBpcOptions): number {
  const { batches } = bpcBatches(ids, opts);
  return model.inEvalMode(() => {
    let nats = 0;
    let count = 0;
    for (const b of batches) {
      nats += nllSum(model, b.inputs, b.targets, b.shape, b.mask);
      count += b.count;
    }
    return nats / count / Math.LN2;
  });
}

/**
 * {@link evaluateBpc} for long evaluations: the same result, bit for bit, but it reports each batch
 * through `onBatch` and lets the event loop run between batches (timers, signals, I/O), so a
 * progress display updates and Ctrl-C is handled promptly.
 */
export async function evaluateBpcAsync(
  model: LanguageModel,
  ids: Int32Array,
  opts: EvaluateBpcAsyncOptions,
): Promise<number> {
  const { total, batches } = bpcBatches(ids, opts);
  return model.inEvalMode(async () => {
    let nats = 0;
    let count = 0;
    let done = 0;
    for (const b of batches) {
      nats += nllSum(model, b.inputs, b.targets, b.shape, b.mask);
      count += b.count;
      await opts.onBatch?.(++done, total);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return nats / count / Math.LN2;
  });
}

/** `n` offsets spread evenly over `[0, last]`. */
function evenlySpaced(last: number, n: number): number[] {
  if (n <= 1) return [0];
  return Array.from({ length: n }, (_, i) => Math.round((i * last) / (n - 1)));
}

/** Options of {@link trainLm}. */
export interface TrainLmOptions {
  model: LanguageModel;
  /** Training text as ids. */
  ids: Int32Array;
  steps: number;
  batch: number;
  seqLen: number;
  lr: number;
  /** Warmup steps (linear), then cosine decay to 0. Default 10 % of `steps`. */
  warmupSteps?: number;
  weightDecay?: number;
  maxGradNorm?: number | null;
  /** Seeds the batch sampler and the library RNG (dropout). */
  seed: number;
  onStep?: (info: StepInfo) => void | Promise<void>;
  /** Checkpoint every N steps into `checkpointDir` (for resumable runs). */
  checkpointEvery?: number;
  checkpointDir?: string;
  /** Keep only the newest this many periodic checkpoints. Default: keep all. */
  keepLastCheckpoints?: number;
  /** Continue from the newest checkpoint in `checkpointDir` when there is one. */
  resume?: boolean;
  /**
   * Auxiliary losses added to every step's loss (the Trainer's option): for a model with NeMo-style
   * adapters, the model itself (`attachMethod(...).auxiliaryLosses`). Default: none.
   */
  auxiliaryLosses?: TrainerOptions<LmBatch>['auxiliaryLosses'];
}

/**
 * Trains `model`'s trainable parameters on random windows of `ids` with AdamW and warmup + cosine.
 * Batch `s` comes from a generator seeded by `(seed, s)`, so a resumed run sees the same batches.
 * Returns the per-step losses.
 */
export async function trainLm(opts: TrainLmOptions): Promise<number[]> {
  check(
    Number.isInteger(opts.steps) && opts.steps >= 1,
    'INVALID_CONFIG',
    () => `trainLm: steps must be an integer ≥ 1, got ${opts.steps}`,
  );
  check(opts.lr > 0, 'INVALID_CONFIG', () => `trainLm: the learning rate must be > 0, got ${opts.lr}`);
  const trainer = new Trainer<LmBatch>({
    model: opts.model,
    loss: lmLoss,
    ...recipeOptimization(opts),
    maxGradNorm: opts.maxGradNorm ?? 1,
    seed: opts.seed,
    countTokens: (b) => b.inputs.length,
    onStep: opts.onStep,
    checkpointEvery: opts.checkpointEvery,
    checkpointDir: opts.checkpointDir,
    keepLastCheckpoints: opts.keepLastCheckpoints,
    auxiliaryLosses: opts.auxiliaryLosses,
  });
  try {
    // Through the installed file access (adapterkit/node), so this module stays browser-safe.
    const found =
      opts.resume && opts.checkpointDir
        ? await trainerCheckpointsIn(requirePathFiles('trainLm({resume})'), opts.checkpointDir)
        : [];
    if (found.length) await trainer.loadCheckpoint(found[found.length - 1]!.file);
    const data = (step: number) =>
      sampleLmBatch(opts.ids, opts.batch, opts.seqLen, createRng(opts.seed * 1_000_003 + step));
    return (await trainer.fit(data)).losses;
  } finally {
    trainer.dispose();
  }
}
