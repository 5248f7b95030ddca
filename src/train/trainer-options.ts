/**
 * The options of {@link Trainer}: a zod schema, the types callers write and the trainer keeps (both inferred
 * from it), and the parser that turns zod's issues into one `INVALID_CONFIG` naming each option, its value
 * and what it must be.
 */
import { z } from 'zod';
import type { tf, Tensor } from '../backend/tf.js';
import { AdapterError } from '../errors.js';
import { requirePathFiles } from '../io/path-files.js';
import type { Module } from '../nn/module.js';
import type { AdamWOptions } from './adamw.js';
import type { EvalRecord } from './checkpoint.js';
import type { LrSchedule, ScheduleConfig } from './schedule.js';

/**
 * A model that reports auxiliary losses (SPEC §2.10): adapter models built with `withAdapterModel` are.
 * `total` is a 0-d tensor, or `0` when nothing was registered.
 */
export interface AuxiliaryLossSource {
  collectAuxiliaryLosses(options: { reset: boolean }): { total: Tensor | number } | undefined;
}

/** Auxiliary losses of one micro-batch, read after its forward: a 0-d tensor, or a number (`0` for none). */
export type AuxiliaryLossFn = () => Tensor | number;

/** Progress reported after every optimizer update. */
export interface StepInfo {
  /** Updates completed, including this one (1 for the first). */
  step: number;
  /** Loss of this update: the mean over its micro-batches, auxiliary losses included. */
  loss: number;
  /** Learning rate this update used. */
  lr: number;
  /** Tokens in this update (0 without `countTokens`). */
  tokens: number;
  /** Tokens since the start of the run (restored on resume). */
  totalTokens: number;
  /** Milliseconds since this `fit` call started (or since the trainer was built, for `trainStep`). */
  elapsedMs: number;
  /** Global L2 norm of the gradient before clipping, when `maxGradNorm` is set; else `null`. */
  gradNorm: number | null;
}

/** A reported evaluation. */
export interface EvalInfo extends EvalRecord {
  /** Whether this metric is a new best. */
  improved: boolean;
  /** Best metric so far. */
  best: number | null;
}

/** Linear warmup + cosine decay with the optimizer's `lr` as the peak (see `linearWarmupCosine`). */
export interface TrainerScheduleOptions {
  /** Default 0. */
  warmupSteps?: number;
  /** Default: the trainer's `maxSteps`. */
  totalSteps?: number;
  /** Default 0. */
  minLr?: number;
}

/** A value of type `F`, checked to be a function (its signature is the caller's promise). */
const fn = <F>() => z.custom<F>((v) => typeof v === 'function');

/** Something with a `namedParameters()` method: the check `Module` values pass across bundles. */
const isModule = (v: unknown): v is Module =>
  v !== null && typeof v === 'object' && typeof (v as Module).namedParameters === 'function';

const isAuxiliaryLossSource = (v: unknown): v is AuxiliaryLossSource =>
  v !== null &&
  typeof v === 'object' &&
  typeof (v as AuxiliaryLossSource).collectAuxiliaryLosses === 'function';

const positiveInt = z.int().min(1);

/** Schema of {@link EarlyStoppingOptions}. */
export const earlyStoppingSchema = z.object({
  /** Stop after this many evaluations in a row without improvement. */
  patience: positiveInt,
  /** `min` (default): lower is better, e.g. a loss; `max`: higher is better, e.g. accuracy. */
  mode: z.enum(['min', 'max']).default('min'),
  /** An improvement must beat the best by more than this. Default 0. */
  minDelta: z.number().min(0).default(0),
});

/** Early stopping on the evaluation metric. */
export type EarlyStoppingOptions = z.input<typeof earlyStoppingSchema>;

/**
 * Schema of {@link TrainerOptions}. Batches are typed `never` here, so any loss accepts; the generic
 * {@link TrainerOptions} puts the batch type back. The AdamW options and the schedule are checked by
 * `AdamW` and `createSchedule` / `linearWarmupCosine`, which own them.
 */
export const trainerOptionsSchema = z
  .object({
    /** The model. Its trainable parameters, at construction, are the ones optimised. */
    model: z.custom<Module>(isModule),
    /** The loss of one (micro-)batch; runs inside the differentiated function and must return a 0-d tensor. */
    loss: fn<(batch: never, model: Module) => tf.Scalar>(),
    /** Micro-batches per update; each contributes `loss / k`, so the gradient is their mean. Default 1. */
    gradAccumulationSteps: positiveInt.default(1),
    /** Updates `fit` runs up to (absolute step count) unless `fit` is given `steps`. */
    maxSteps: z.int().min(0).optional(),
    /** Clip the accumulated gradient to this global L2 norm (PyTorch's `clip_grad_norm_`). Default: no clipping. */
    maxGradNorm: z
      .custom<number>((v) => typeof v === 'number' && v > 0) // Infinity: report the norm, never clip
      .nullable()
      .optional(),
    /** Evaluate every this many updates (requires `evalFn`). */
    evalEvery: positiveInt.optional(),
    /** Returns the evaluation metric; called with the model in eval mode (modes are restored afterwards). */
    evalFn: fn<(model: Module, step: number) => number | Promise<number>>().optional(),
    /** Stop when the evaluation metric stops improving (requires `evalEvery` and `evalFn`). */
    earlyStopping: earlyStoppingSchema.optional(),
    /** Save a checkpoint every this many updates into `checkpointDir`. */
    checkpointEvery: positiveInt.optional(),
    /** Directory of the periodic checkpoints (`checkpoint-<step>.safetensors`). */
    checkpointDir: z.string().optional(),
    /** Keep only the newest this many periodic checkpoints. Default: keep all. */
    keepLastCheckpoints: positiveInt.optional(),
    /**
     * Seed of the trainer's `SeededRng`, installed as the library-wide RNG (`setRng`) so dropout and
     * stochastic-depth draws are reproducible and their state is checkpointed. Default: the RNG is left alone.
     */
    seed: z.number().optional(),
    /** AdamW hyper-parameters (PyTorch defaults: lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0.01). */
    optimizer: z.custom<AdamWOptions>((v) => v !== null && typeof v === 'object').optional(),
    /**
     * Learning-rate schedule: warmup + cosine options (peak = `optimizer.lr`), a JSON schedule config, or
     * a function of the completed step count. Default: constant `optimizer.lr`.
     */
    schedule: z
      .custom<TrainerScheduleOptions | ScheduleConfig | LrSchedule>(
        (v) => typeof v === 'function' || (v !== null && typeof v === 'object'),
      )
      .optional(),
    /**
     * Auxiliary losses (SPEC §2.10) added to each micro-batch's loss, inside the differentiated function:
     * a source such as an adapter model (its `collectAuxiliaryLosses({reset: true}).total`), a function,
     * or `true` for the model itself (which must then be a source). Default: none.
     */
    auxiliaryLosses: z
      .union([z.boolean(), fn<AuxiliaryLossFn>(), z.custom<AuxiliaryLossSource>(isAuxiliaryLossSource)])
      .optional(),
    /** Called after every update. */
    onStep: fn<(info: StepInfo) => void | Promise<void>>().optional(),
    /** Called after every evaluation. */
    onEval: fn<(info: EvalInfo) => void | Promise<void>>().optional(),
    /**
     * Called with the gradient of each update (accumulated over its micro-batches, before clipping), keyed by
     * parameter path. The tensors belong to the trainer: read them, do not dispose them.
     */
    onGradients: fn<(grads: ReadonlyMap<string, Tensor>, step: number) => void>().optional(),
    /** Number of tokens in a micro-batch, for progress reports. */
    countTokens: fn<(batch: never) => number>().optional(),
    /** Dispose every tensor found in a batch once its update is done (for sources that create tensors per call). Default false. */
    disposeBatches: z.boolean().default(false),
  })
  .superRefine((o, ctx) => {
    const need = (ok: boolean, field: string, rule: string) => {
      if (!ok) ctx.addIssue({ code: 'custom', path: [field], message: rule, params: { rule } });
    };
    if (o.evalEvery !== undefined) need(o.evalFn !== undefined, 'evalFn', 'a function when evalEvery is set');
    if (o.earlyStopping !== undefined)
      need(o.evalEvery !== undefined, 'evalEvery', 'set when earlyStopping is used');
    if (o.checkpointEvery !== undefined)
      need(!!o.checkpointDir, 'checkpointDir', 'a directory path when checkpointEvery is set');
    if (o.auxiliaryLosses === true)
      need(
        isAuxiliaryLossSource(o.model),
        'auxiliaryLosses',
        'true only for a model with collectAuxiliaryLosses',
      );
  })
  .transform(({ auxiliaryLosses, ...o }) => ({
    ...o,
    auxiliaryLosses: auxiliaryLossFn(auxiliaryLosses, o.model),
  }));

/** The auxiliary-loss option as one function, or `null` for none. */
function auxiliaryLossFn(
  option: boolean | AuxiliaryLossFn | AuxiliaryLossSource | undefined,
  model: Module,
): AuxiliaryLossFn | null {
  if (option === undefined || option === false) return null;
  if (typeof option === 'function') return option;
  const source: unknown = option === true ? model : option; // `true`: checked to be a source above
  return isAuxiliaryLossSource(source)
    ? () => source.collectAuxiliaryLosses({ reset: true })?.total ?? 0
    : null;
}

type BatchTyped<T, B> = Omit<T, 'loss' | 'countTokens'> & {
  /** The loss of one (micro-)batch; runs inside the differentiated function and must return a 0-d tensor. */
  loss: (batch: B, model: Module) => tf.Scalar;
  /** Number of tokens in a micro-batch, for progress reports. */
  countTokens?: (batch: B) => number;
};

/** Options of {@link Trainer}, as callers write them. */
export type TrainerOptions<B> = BatchTyped<z.input<typeof trainerOptionsSchema>, B>;

/** Options of {@link Trainer} after {@link parseTrainerOptions}: defaults filled in, auxiliary losses as one function. */
export type ParsedTrainerOptions<B> = BatchTyped<z.output<typeof trainerOptionsSchema>, B>;

/** Rules of the options whose issue zod describes in its own words, by dotted path. */
const RULES: Record<string, string> = {
  loss: 'a function (batch, model) => scalar',
  gradAccumulationSteps: 'an integer ≥ 1',
  maxSteps: 'an integer ≥ 0',
  maxGradNorm: 'a number > 0 or null',
  evalEvery: 'an integer ≥ 1',
  evalFn: 'a function',
  earlyStopping: 'an object { patience, mode?, minDelta? }',
  'earlyStopping.patience': 'an integer ≥ 1',
  'earlyStopping.mode': "'min' or 'max'",
  'earlyStopping.minDelta': 'a finite number ≥ 0',
  checkpointEvery: 'an integer ≥ 1',
  checkpointDir: 'a directory path',
  keepLastCheckpoints: 'an integer ≥ 1',
  seed: 'a finite number',
  optimizer: 'an object of AdamW options',
  schedule: 'warmup + cosine options, a schedule config or a function of the step',
  auxiliaryLosses: 'true, false, a function () => loss or an object with collectAuxiliaryLosses',
  onStep: 'a function',
  onEval: 'a function',
  onGradients: 'a function',
  countTokens: 'a function (batch) => number',
  disposeBatches: 'true or false',
};

/** Options whose value an error shows by type: a function's text says nothing useful. */
const SHOWN_BY_TYPE = new Set(['loss', 'evalFn', 'onStep', 'onEval', 'onGradients', 'countTokens']);

/**
 * Checks and normalises the options of a {@link Trainer}: a fresh object, defaults filled in. Every bad
 * option is reported in one `INVALID_CONFIG` ("Trainer: maxSteps must be an integer ≥ 0, got -1");
 * `details` holds the first one's `field` and `value` and the full list as `issues`.
 */
export function parseTrainerOptions<B>(options: TrainerOptions<B>): ParsedTrainerOptions<B> {
  const parsed = trainerOptionsSchema.safeParse(options);
  if (!parsed.success) {
    if (parsed.error.issues.some((issue) => issue.path.length === 0 || issue.path[0] === 'model'))
      throw new AdapterError('INVALID_CONFIG', 'Trainer: model must be a Module', { field: 'model' });
    const issues = parsed.error.issues.map((issue) => {
      const field = issue.path.join('.');
      const raw = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown>)?.[k], options);
      const value = SHOWN_BY_TYPE.has(field) ? typeof raw : raw;
      const rule = (issue as { params?: { rule?: string } }).params?.rule ?? RULES[field] ?? issue.message;
      return { field, value, rule };
    });
    const message = issues
      .map((i) => `${i.field} must be ${i.rule}, got ${JSON.stringify(i.value)}`)
      .join('; ');
    throw new AdapterError('INVALID_CONFIG', `Trainer: ${message}`, {
      field: issues[0]!.field,
      value: issues[0]!.value,
      issues,
    });
  }
  // Fail now, not at the first periodic save.
  if (parsed.data.checkpointEvery !== undefined) requirePathFiles('Trainer: checkpointDir');
  // The schema types batches as `never`; the caller's `B` is the one its loss was written for.
  return parsed.data as ParsedTrainerOptions<B>;
}
