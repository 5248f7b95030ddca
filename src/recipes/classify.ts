/**
 * The spam classification task: SpamAssassin messages (`loadSpamSplits`), encoded per character,
 * classified by an {@link EncoderClassifier} trained from scratch or initialised from a
 * {@link CharLM}'s character embeddings, optionally through an adapter on a frozen model.
 * Node only (the corpus is read from disk).
 */
import { tf } from '../backend/tf.js';
import type { AdapterConfig } from '../adapters/types.js';
import { padBatch, permutation } from '../data/batching.js';
import { loadSpamSplits, type LabeledText, type SpamSplits } from '../data/spamassassin.js';
import { CharVocab } from '../data/vocab.js';
import { check, describeValue } from '../errors.js';
import type { CharLM } from '../models/char-lm.js';
import { EncoderClassifier, type EncoderClassifierConfig } from '../models/encoder-classifier.js';
import type { Module } from '../nn/module.js';
import { createRng, manualSeed } from '../rng.js';
import { crossEntropy } from '../train/losses.js';
import { Trainer, type StepInfo } from '../train/trainer.js';
import { recipeOptimization } from './optimization.js';

/** Number of classes of the spam task (0 = ham, 1 = spam). */
export const SPAM_NUM_CLASSES = 2;

/** One classification batch: padded ids, the padding mask (1 = padding) and the labels. */
export interface ClassificationBatch {
  ids: Int32Array;
  /** 1 at padding positions (as `padBatch` builds it). */
  mask: Uint8Array;
  labels: Int32Array;
  shape: [number, number];
}

/** Encoder sizes of the classifier {@link trainSpamClassifier} builds (all optional). */
export interface SpamModelOptions {
  /** Default 64 from scratch; the LM's `dModel` when initialised from an LM (must match). */
  dModel?: number;
  /** Default 2. */
  numLayers?: number;
  /** Default 2. */
  nHead?: number;
  /** Default `2·dModel`. Only the embeddings come from an LM, so the encoder sizes are free. */
  dFF?: number;
  /** Default 0. */
  dropout?: number;
  /** Default `'learned'`. */
  positional?: 'learned' | 'sinusoidal';
}

/** How the classifier starts: random weights, or a CharLM's character embeddings (and its vocabulary). */
export type SpamInit =
  | 'scratch'
  | {
      lm: CharLM;
      /** Also copy the LM's learned position rows (see `loadEmbeddingsFrom`). Default false. */
      positions?: boolean;
    };

/**
 * Defaults of {@link trainSpamClassifier}. Measured on the wasm backend of a shared 2-core machine
 * (another training job running, load 3.5–5.7): from scratch, 150 updates take 37–53 s (250–350 ms
 * each) and reach about 90 % test accuracy; from a `dModel` 128 CharLM about 520 ms per update
 * (100 updates ≈ 1 min), or about 280 ms with a linear adapter on the frozen model. `maxLen` 256
 * costs about twice as much per update (attention is quadratic in it). Evaluating the 1138 test
 * messages takes 4–9 s.
 */
export const DEFAULT_SPAM_TRAINING = Object.freeze({
  steps: 150,
  batch: 16,
  maxLen: 128,
  lr: 3e-3,
  seed: 0,
  /** Encoder sizes from scratch (`dFF` defaults to `2·dModel`). */
  model: Object.freeze({ dModel: 64, numLayers: 2, nHead: 2 }),
});

/** Options of {@link trainSpamClassifier}; every field has a default ({@link DEFAULT_SPAM_TRAINING}). */
export interface TrainSpamClassifierOptions {
  /** Optimizer updates. Default 150. */
  steps?: number;
  /** Messages per update. Default 16. */
  batch?: number;
  /** Characters kept per message (the classifier's `maxLen`). Default 128. */
  maxLen?: number;
  /** Peak learning rate (linear warmup, then cosine decay to 0). Default 3e-3. */
  lr?: number;
  /** Seeds initialisation, batch order and dropout. Default 0. */
  seed?: number;
  /** `'scratch'` (default), or `{ lm }` to take the LM's vocabulary and character embeddings. */
  init?: SpamInit;
  /**
   * An adapter config for `addAdapter` (e.g. `{ type: 'linear', inFeatures: 64, dim: 16 }`; the
   * encoder corrects `inFeatures` to its width, as NeMo's layered hosts do). When given, the model is frozen and only the adapter and the
   * new `classifier` head train.
   */
  adapter?: AdapterConfig;
  /** Name of that adapter. Default `'spam'`. */
  adapterName?: string;
  /** Encoder sizes. */
  model?: SpamModelOptions;
  /** Already loaded splits (e.g. to share one load between runs). Default: `loadSpamSplits({ maxChars: maxLen })`. */
  splits?: SpamSplits;
  /** From scratch: characters seen fewer times in the training texts encode as `<unk>`. Default 2. */
  minCharCount?: number;
  /** Default 10 % of `steps`. */
  warmupSteps?: number;
  /** Default 0.01. */
  weightDecay?: number;
  /** Default 1. */
  maxGradNorm?: number | null;
  /** Called after every update. */
  onStep?: (info: StepInfo) => void;
}

/** What {@link trainSpamClassifier} returns. */
export interface SpamClassifierRun {
  /** The trained classifier (its `cfg.vocab` records the vocabulary). */
  model: EncoderClassifier;
  vocab: CharVocab;
  /** The splits the run used (pass `test` to {@link evaluateClassifier}). */
  splits: SpamSplits;
  /** Loss of every update. */
  losses: number[];
  /** Number of trained parameter elements. */
  trainableParameters: number;
  /** Wall time of the training loop (data loading and model building excluded). */
  trainMs: number;
}

/** {@link TrainSpamClassifierOptions} with the defaults filled in. */
type ResolvedSpamOptions = TrainSpamClassifierOptions &
  Required<Pick<TrainSpamClassifierOptions, 'steps' | 'batch' | 'maxLen' | 'lr' | 'seed' | 'init'>>;

/** Encodes texts with `vocab`, each cut to `maxLen` characters. */
function encodeAll(items: readonly LabeledText[], vocab: CharVocab, maxLen: number): Int32Array[] {
  return items.map((x) => {
    const ids = vocab.encode(x.text);
    return ids.length > maxLen ? ids.subarray(0, maxLen) : ids;
  });
}

/** Pads encoded rows `rows` of `seqs` into one batch (length = the longest row). */
function makeBatch(
  seqs: readonly Int32Array[],
  labels: readonly number[],
  rows: ArrayLike<number>,
): ClassificationBatch {
  const picked: Int32Array[] = [];
  const y = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    picked.push(seqs[rows[i]!]!);
    y[i] = labels[rows[i]!]!;
  }
  const p = padBatch(picked);
  return { ids: p.ids, mask: p.mask, labels: y, shape: [p.batch, p.seqLen] };
}

/** Mean cross-entropy (nats) of a batch under `model` (an {@link EncoderClassifier}). */
export function classificationLoss(batch: ClassificationBatch, model: Module): tf.Scalar {
  return tf.tidy(() => {
    const ids = tf.tensor2d(batch.ids, batch.shape, 'int32');
    const mask = tf.tensor2d(batch.mask, batch.shape, 'int32');
    const logits = (model as EncoderClassifier).forward(ids, mask);
    return crossEntropy(logits, tf.tensor1d(batch.labels, 'int32'));
  });
}

function requireInt(v: unknown, field: string, min: number): void {
  check(
    Number.isInteger(v) && (v as number) >= min,
    'INVALID_CONFIG',
    () => `trainSpamClassifier: ${field} must be an integer ≥ ${min}, got ${describeValue(v)}`,
    () => ({ field, value: v }),
  );
}

/** The classifier config for `opts`, and the vocabulary it uses. */
function classifierConfig(
  opts: ResolvedSpamOptions,
  splits: SpamSplits,
): { cfg: EncoderClassifierConfig; vocab: CharVocab } {
  const m = opts.model ?? {};
  const dflt = DEFAULT_SPAM_TRAINING.model;
  if (opts.init === 'scratch') {
    const vocab = CharVocab.fromText(
      splits.train.map((x) => x.text),
      { minCount: opts.minCharCount ?? 2 },
    );
    const dModel = m.dModel ?? dflt.dModel;
    return {
      vocab,
      cfg: {
        vocabSize: vocab.size,
        dModel,
        numLayers: m.numLayers ?? dflt.numLayers,
        nHead: m.nHead ?? dflt.nHead,
        dFF: m.dFF ?? 2 * dModel,
        maxLen: opts.maxLen,
        numClasses: SPAM_NUM_CLASSES,
        dropout: m.dropout ?? 0,
        positional: m.positional ?? 'learned',
        vocab: vocab.toJSON(),
      },
    };
  }
  const init = opts.init;
  check(
    init !== null && typeof init === 'object' && init.lm !== undefined,
    'INVALID_CONFIG',
    () => `trainSpamClassifier: init must be 'scratch' or { lm: CharLM }, got ${describeValue(init)}`,
    () => ({ field: 'init', valid: ['scratch', '{ lm }'] }),
  );
  const lmCfg = init.lm.cfg;
  check(
    lmCfg.vocab !== undefined,
    'INVALID_CONFIG',
    () =>
      'trainSpamClassifier: the CharLM records no vocabulary (cfg.vocab), so its embeddings cannot be matched to characters',
  );
  check(
    m.dModel === undefined || m.dModel === lmCfg.dModel,
    'INVALID_CONFIG',
    () =>
      `trainSpamClassifier: model.dModel ${m.dModel} differs from the CharLM's dModel ${lmCfg.dModel}; omit it when initialising from the LM`,
    () => ({ field: 'model.dModel', value: m.dModel, expected: lmCfg.dModel }),
  );
  const vocab = CharVocab.fromJSON(lmCfg.vocab);
  return {
    vocab,
    cfg: {
      vocabSize: vocab.size,
      dModel: lmCfg.dModel,
      numLayers: m.numLayers ?? dflt.numLayers,
      nHead: m.nHead ?? dflt.nHead,
      dFF: m.dFF ?? 2 * lmCfg.dModel,
      maxLen: opts.maxLen,
      numClasses: SPAM_NUM_CLASSES,
      dropout: m.dropout ?? 0,
      positional: m.positional ?? 'learned',
      vocab: vocab.toJSON(),
    },
  };
}

/**
 * Trains a spam classifier on the SpamAssassin training split with AdamW (linear warmup + cosine),
 * cross-entropy over the logits, and gradient clipping.
 *
 * - `init: 'scratch'`: vocabulary built from the training texts; every parameter trains.
 * - `init: { lm }`: the LM's vocabulary; `tok_emb` copied from the LM (`loadEmbeddingsFrom`);
 *   every parameter trains.
 * - with `adapter`: the adapter is added to the encoder's blocks, the model is frozen, and only the
 *   adapter and the `classifier` head train (the base stays in eval mode: no dropout).
 *
 * Batches walk a fresh seeded permutation of the training set each epoch; batch `s` depends only on
 * `(seed, s)`. Each batch is padded to its longest message (at most `maxLen`).
 *
 * @param opts - {@link TrainSpamClassifierOptions}.
 * @returns {@link SpamClassifierRun}.
 * @throws AdapterError `INVALID_CONFIG` on a bad option (naming it), or from the model and adapter.
 *
 * @example
 * ```ts
 * const run = await trainSpamClassifier({ steps: 150, seed: 1 }); // from scratch, the other defaults
 * const { accuracy } = evaluateClassifier(run.model, run.splits.test);
 * ```
 */
export async function trainSpamClassifier(
  options: TrainSpamClassifierOptions = {},
): Promise<SpamClassifierRun> {
  const D = DEFAULT_SPAM_TRAINING;
  const opts: ResolvedSpamOptions = {
    ...options,
    steps: options.steps ?? D.steps,
    batch: options.batch ?? D.batch,
    maxLen: options.maxLen ?? D.maxLen,
    lr: options.lr ?? D.lr,
    seed: options.seed ?? D.seed,
    init: options.init ?? 'scratch',
  };
  requireInt(opts.steps, 'steps', 1);
  requireInt(opts.batch, 'batch', 1);
  requireInt(opts.maxLen, 'maxLen', 1);
  check(
    typeof opts.lr === 'number' && opts.lr > 0,
    'INVALID_CONFIG',
    () => `trainSpamClassifier: lr must be a number > 0, got ${describeValue(opts.lr)}`,
    () => ({ field: 'lr', value: opts.lr }),
  );
  check(
    Number.isFinite(opts.seed),
    'INVALID_CONFIG',
    () => `trainSpamClassifier: seed must be a finite number, got ${describeValue(opts.seed)}`,
    () => ({ field: 'seed', value: opts.seed }),
  );
  const splits = opts.splits ?? loadSpamSplits({ maxChars: opts.maxLen });
  check(splits.train.length > 0, 'INVALID_INPUT', () => 'trainSpamClassifier: the training split is empty');
  const { cfg, vocab } = classifierConfig(opts, splits);

  manualSeed(opts.seed);
  const model = new EncoderClassifier(cfg);
  let trainer: Trainer<ClassificationBatch> | undefined;
  try {
    if (opts.init !== 'scratch')
      model.loadEmbeddingsFrom(opts.init.lm, { positions: opts.init.positions ?? false });
    if (opts.adapter) {
      model.addAdapter(opts.adapterName ?? 'spam', opts.adapter);
      model.freeze();
      model.unfreezeEnabledAdapters();
      const head = model.getChild('classifier')!;
      for (const p of head.parameters()) p.trainable = true;
      head.train();
    }

    const seqs = encodeAll(splits.train, vocab, opts.maxLen);
    const labels = splits.train.map((x) => x.label);
    const n = seqs.length;
    const perms = new Map<number, Int32Array>();
    const perm = (epoch: number): Int32Array => {
      let p = perms.get(epoch);
      if (!p) {
        if (perms.size > 2) perms.delete(perms.keys().next().value!);
        p = permutation(n, createRng(opts.seed * 1_000_003 + epoch * 7919 + 17));
        perms.set(epoch, p);
      }
      return p;
    };
    const data = (step: number): ClassificationBatch => {
      const rows = new Int32Array(opts.batch);
      for (let i = 0; i < opts.batch; i++) {
        const pos = step * opts.batch + i;
        rows[i] = perm(Math.floor(pos / n))[pos % n]!;
      }
      return makeBatch(seqs, labels, rows);
    };

    trainer = new Trainer<ClassificationBatch>({
      model,
      loss: classificationLoss,
      ...recipeOptimization(opts),
      maxGradNorm: opts.maxGradNorm === undefined ? 1 : opts.maxGradNorm,
      seed: opts.seed,
      countTokens: (b) => b.mask.reduce((a, m) => a + (m ? 0 : 1), 0),
      onStep: opts.onStep,
      auxiliaryLosses: model,
    });
    const trainableParameters = model.numParameters({ trainableOnly: true });
    const t0 = performance.now();
    const result = await trainer.fit(data);
    return {
      model,
      vocab,
      splits,
      losses: result.losses,
      trainableParameters,
      trainMs: performance.now() - t0,
    };
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    trainer?.dispose();
  }
}

/** Options of {@link evaluateClassifier}. */
export interface EvaluateClassifierOptions {
  /** Messages per forward. Default 64. */
  batch?: number;
  /** Characters kept per message. Default the model's `maxLen`. */
  maxLen?: number;
  /** Vocabulary to encode with. Default the model's `cfg.vocab`. */
  vocab?: CharVocab;
  /** Evaluate only the first this many examples. Default all. */
  limit?: number;
}

/** What {@link evaluateClassifier} returns. */
export interface ClassifierEval {
  /** Fraction of examples whose arg-max class equals the label. */
  accuracy: number;
  /** Mean cross-entropy (nats) over the examples (an exact mean, not a mean of batch means). */
  loss: number;
  /** Number of examples evaluated. */
  count: number;
  /** Binary tasks: counts with class 1 (spam) as positive; `null` for more classes. */
  confusion: { tp: number; fp: number; tn: number; fn: number } | null;
}

/**
 * Accuracy and mean cross-entropy of a classifier on labelled texts, in eval mode (every module's
 * mode is restored afterwards). Texts are encoded with the model's recorded vocabulary.
 *
 * @param model - An {@link EncoderClassifier}.
 * @param split - Labelled texts (e.g. `splits.test`).
 * @param opts - {@link EvaluateClassifierOptions}.
 * @returns {@link ClassifierEval}.
 * @throws AdapterError `INVALID_CONFIG` when the model records no vocabulary and none is given;
 *   `INVALID_INPUT` when the split is empty or a label is not a class of the model.
 */
export function evaluateClassifier(
  model: EncoderClassifier,
  split: readonly LabeledText[],
  opts: EvaluateClassifierOptions = {},
): ClassifierEval {
  const batch = opts.batch ?? 64;
  const maxLen = opts.maxLen ?? model.cfg.maxLen;
  check(
    Number.isInteger(batch) && batch >= 1,
    'INVALID_CONFIG',
    () => `evaluateClassifier: batch must be an integer ≥ 1, got ${describeValue(batch)}`,
  );
  check(
    Number.isInteger(maxLen) && maxLen >= 1 && maxLen <= model.cfg.maxLen,
    'INVALID_CONFIG',
    () =>
      `evaluateClassifier: maxLen must be an integer in [1, ${model.cfg.maxLen}] (the model's maxLen), got ${describeValue(maxLen)}`,
  );
  check(
    opts.vocab !== undefined || model.cfg.vocab !== undefined,
    'INVALID_CONFIG',
    () => 'evaluateClassifier: the model records no vocabulary (cfg.vocab); pass opts.vocab',
  );
  const vocab = opts.vocab ?? CharVocab.fromJSON(model.cfg.vocab);
  const items = opts.limit === undefined ? split : split.slice(0, opts.limit);
  check(items.length > 0, 'INVALID_INPUT', () => 'evaluateClassifier: no examples to evaluate');
  const k = model.cfg.numClasses;
  for (const [i, x] of items.entries()) {
    check(
      Number.isInteger(x.label) && x.label >= 0 && x.label < k,
      'INVALID_INPUT',
      () =>
        `evaluateClassifier: example ${i} (${x.id}) has label ${describeValue(x.label)}, not a class in [0, ${k})`,
    );
  }
  const seqs = encodeAll(items, vocab, maxLen);
  const labels = items.map((x) => x.label as number);
  return model.inEvalMode(() => {
    let correct = 0;
    let nats = 0;
    const conf = { tp: 0, fp: 0, tn: 0, fn: 0 };
    for (let start = 0; start < seqs.length; start += batch) {
      const rows = Array.from({ length: Math.min(batch, seqs.length - start) }, (_, i) => start + i);
      const b = makeBatch(seqs, labels, rows);
      const { logits, nll } = tf.tidy(() => {
        const out = model.forward(
          tf.tensor2d(b.ids, b.shape, 'int32'),
          tf.tensor2d(b.mask, b.shape, 'int32'),
        );
        const lse = tf.logSumExp(out, 1);
        const picked = tf.sum(tf.mul(out, tf.oneHot(tf.tensor1d(b.labels, 'int32'), k)), 1);
        return {
          logits: out.dataSync() as Float32Array,
          nll: tf.sub(lse, picked).dataSync() as Float32Array,
        };
      });
      for (let r = 0; r < rows.length; r++) {
        let best = 0;
        for (let c = 1; c < k; c++) if (logits[r * k + c]! > logits[r * k + best]!) best = c;
        const y = b.labels[r]!;
        if (best === y) correct++;
        nats += nll[r]!;
        if (k === 2) {
          if (best === 1 && y === 1) conf.tp++;
          else if (best === 1) conf.fp++;
          else if (y === 1) conf.fn++;
          else conf.tn++;
        }
      }
    }
    return {
      accuracy: correct / seqs.length,
      loss: nats / seqs.length,
      count: seqs.length,
      confusion: k === 2 ? conf : null,
    };
  });
}
