/**
 * A training loop for any {@link Module}: AdamW over the trainable parameters only, learning-rate schedule,
 * global-norm clipping, gradient accumulation, auxiliary losses, periodic evaluation with early stopping,
 * atomic checkpoints and exact resume.
 */
import { tf, type Tensor, type Variable } from '../backend/tf.js';
import { AdapterError, check } from '../errors.js';
import type { Module } from '../nn/module.js';
import { setRng } from '../rng.js';
import { AdamW, type AdamWOptions } from './adamw.js';
import { requirePathFiles } from '../io/path-files.js';
import {
  checkpointFileName,
  decodeTrainerCheckpoint,
  encodeTrainerCheckpoint,
  trainerCheckpointsIn,
  type CheckpointArray,
  type EarlyStoppingState,
  type EvalRecord,
  type TrainerCheckpoint,
} from './checkpoint.js';
import { clipGradNormOnDevice } from './clip.js';
import {
  constantLr,
  createSchedule,
  linearWarmupCosine,
  type LrSchedule,
  type ScheduleConfig,
} from './schedule.js';
import { SeededRng } from './seeded-rng.js';

/** Linear warmup + cosine decay with the optimizer's `lr` as the peak (see `linearWarmupCosine`). */
export interface TrainerScheduleOptions {
  /** Default 0. */
  warmupSteps?: number;
  /** Default: the trainer's `maxSteps`. */
  totalSteps?: number;
  /** Default 0. */
  minLr?: number;
}

/** Early stopping on the evaluation metric. */
export interface EarlyStoppingOptions {
  /** Stop after this many evaluations in a row without improvement. */
  patience: number;
  /** `min` (default): lower is better, e.g. a loss; `max`: higher is better, e.g. accuracy. */
  mode?: 'min' | 'max';
  /** An improvement must beat the best by more than this. Default 0. */
  minDelta?: number;
}

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

/**
 * Where batches come from. A function is called as `(step, microStep)` with `step` = updates completed
 * before this one (0-based) and `microStep` in `[0, gradAccumulationSteps)`; since it depends only on the
 * indices, a resumed run sees exactly the batches the uninterrupted run saw. An iterable is read from its
 * current position (pass `skipMicroBatches` to `fit` after a resume).
 */
export type BatchSource<B> =
  ((step: number, microStep: number) => B | Promise<B>) | Iterable<B> | AsyncIterable<B>;

/** Options of {@link Trainer}. */
export interface TrainerOptions<B> {
  /** The model. Its trainable parameters, at construction, are the ones optimised. */
  model: Module;
  /** The loss of one (micro-)batch; runs inside the differentiated function and must return a 0-d tensor. */
  loss: (batch: B, model: Module) => tf.Scalar;
  /** AdamW hyper-parameters (PyTorch defaults: lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0.01). */
  optimizer?: AdamWOptions;
  /**
   * Learning-rate schedule: warmup + cosine options (peak = `optimizer.lr`), a JSON schedule config, or
   * a function of the completed step count. Default: constant `optimizer.lr`.
   */
  schedule?: TrainerScheduleOptions | ScheduleConfig | LrSchedule;
  /** Updates `fit` runs up to (absolute step count) unless `fit` is given `steps`. */
  maxSteps?: number;
  /** Clip the accumulated gradient to this global L2 norm (PyTorch's `clip_grad_norm_`). Default: no clipping. */
  maxGradNorm?: number | null;
  /** Micro-batches per update; each contributes `loss / k`, so the gradient is their mean. Default 1. */
  gradAccumulationSteps?: number;
  /**
   * Add `model.collectAuxiliaryLosses({reset: true}).total` to each micro-batch's loss, inside the
   * differentiated function, when the model has that method. Default true.
   */
  auxiliaryLosses?: boolean;
  /** Evaluate every this many updates (requires `evalFn`). */
  evalEvery?: number;
  /** Returns the evaluation metric; called with the model in eval mode (modes are restored afterwards). */
  evalFn?: (model: Module, step: number) => number | Promise<number>;
  /** Stop when the evaluation metric stops improving (requires `evalEvery` and `evalFn`). */
  earlyStopping?: EarlyStoppingOptions;
  /** Save a checkpoint every this many updates into `checkpointDir`. */
  checkpointEvery?: number;
  /** Directory of the periodic checkpoints (`checkpoint-<step>.safetensors`). */
  checkpointDir?: string;
  /** Keep only the newest this many periodic checkpoints. Default: keep all. */
  keepLastCheckpoints?: number;
  /**
   * Seed of the trainer's {@link SeededRng}, installed as the library-wide RNG (`setRng`) so dropout and
   * stochastic-depth draws are reproducible and their state is checkpointed. Default: the RNG is left alone.
   */
  seed?: number;
  /** Called after every update. */
  onStep?: (info: StepInfo) => void | Promise<void>;
  /** Called after every evaluation. */
  onEval?: (info: EvalInfo) => void | Promise<void>;
  /**
   * Called with the gradient of each update (accumulated over its micro-batches, before clipping), keyed by
   * parameter path. The tensors belong to the trainer: read them, do not dispose them.
   */
  onGradients?: (grads: ReadonlyMap<string, Tensor>, step: number) => void;
  /** Number of tokens in a micro-batch, for progress reports. */
  countTokens?: (batch: B) => number;
  /** Dispose every tensor found in a batch once its update is done (for sources that create tensors per call). Default false. */
  disposeBatches?: boolean;
}

/** Options of {@link Trainer.fit}. */
export interface FitOptions {
  /** Absolute number of updates to reach. Default: the trainer's `maxSteps`. */
  steps?: number;
  /** Micro-batches to discard from an iterable source before training (e.g. `step × k` after a resume). */
  skipMicroBatches?: number;
}

/** Why {@link Trainer.fit} returned. */
export type StopReason = 'maxSteps' | 'earlyStopping' | 'dataExhausted';

/** What {@link Trainer.fit} returns. */
export interface FitResult {
  step: number;
  losses: number[];
  evals: EvalRecord[];
  stopReason: StopReason;
  bestMetric: number | null;
  bestStep: number | null;
}

function isPositiveInt(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 1;
}

function optionCheck(ok: boolean, field: string, value: unknown, rule: string): void {
  check(
    ok,
    'INVALID_CONFIG',
    () => `Trainer: ${field} must be ${rule}, got ${JSON.stringify(value)}`,
    () => ({ field, value }),
  );
}

function disposeTensorsIn(x: unknown, seen = new Set<unknown>()): void {
  if (x === null || typeof x !== 'object' || seen.has(x)) return;
  seen.add(x);
  if (x instanceof tf.Tensor) {
    if (!(x instanceof tf.Variable) && !x.isDisposed) x.dispose();
    return;
  }
  if (x instanceof Map) for (const v of x.values()) disposeTensorsIn(v, seen);
  else if (Array.isArray(x)) for (const v of x) disposeTensorsIn(v, seen);
  else if (Object.getPrototypeOf(x) === Object.prototype)
    for (const v of Object.values(x)) disposeTensorsIn(v, seen);
}

function toArray(t: Tensor): CheckpointArray {
  if (t.dtype === 'float32')
    return { dtype: 'float32', shape: [...t.shape], data: Float32Array.from(t.dataSync() as Float32Array) };
  return { dtype: 'int32', shape: [...t.shape], data: Int32Array.from(t.dataSync() as ArrayLike<number>) };
}

/**
 * Trains a model with AdamW. Only trainable parameters are differentiated (`tf.variableGrads` with the
 * explicit list) and get optimizer state; frozen parameters are never touched. Every update disposes
 * everything it creates, so `tf.memory().numTensors` stays flat across steps.
 *
 * @example
 * ```ts
 * const trainer = new Trainer({
 *   model,
 *   loss: (b, m) => crossEntropy(m.forward(b.x), b.y),
 *   optimizer: { lr: 3e-4, weightDecay: 0.01 },
 *   schedule: { warmupSteps: 100, totalSteps: 2000, minLr: 3e-5 },
 *   maxSteps: 2000,
 *   maxGradNorm: 1,
 *   checkpointEvery: 500,
 *   checkpointDir: 'runs/a',
 *   seed: 42,
 * });
 * const result = await trainer.fit((step) => batches[step % batches.length]!);
 * ```
 */
export class Trainer<B = unknown> {
  readonly model: Module;
  readonly optimizer: AdamW;
  /** The learning rate of update `step + 1`. */
  readonly schedule: LrSchedule;
  /** The seeded RNG installed with `setRng`, when `seed` was given (or a seeded checkpoint was loaded). */
  rng: SeededRng | null;
  private readonly options: TrainerOptions<B>;
  private readonly params: Array<[string, Variable]>;
  private readonly accumulation: number;
  private stepCount = 0;
  private tokenCount = 0;
  private readonly lossHistory: number[] = [];
  private readonly evalHistory: EvalRecord[] = [];
  private early: EarlyStoppingState = { best: null, bestStep: null, badEvals: 0 };
  private clockStart = performance.now();

  constructor(options: TrainerOptions<B>) {
    const o = options;
    check(
      o !== null &&
        typeof o === 'object' &&
        o.model !== null &&
        typeof o.model === 'object' &&
        typeof o.model.namedParameters === 'function',
      'INVALID_CONFIG',
      () => 'Trainer: model must be a Module',
      () => ({ field: 'model' }),
    );
    optionCheck(typeof o.loss === 'function', 'loss', typeof o.loss, 'a function (batch, model) => scalar');
    const k = o.gradAccumulationSteps ?? 1;
    optionCheck(isPositiveInt(k), 'gradAccumulationSteps', k, 'an integer ≥ 1');
    if (o.maxSteps !== undefined)
      optionCheck(Number.isInteger(o.maxSteps) && o.maxSteps >= 0, 'maxSteps', o.maxSteps, 'an integer ≥ 0');
    if (o.maxGradNorm !== undefined && o.maxGradNorm !== null) {
      optionCheck(
        typeof o.maxGradNorm === 'number' && o.maxGradNorm > 0,
        'maxGradNorm',
        o.maxGradNorm,
        'a number > 0 or null',
      );
    }
    if (o.evalEvery !== undefined) {
      optionCheck(isPositiveInt(o.evalEvery), 'evalEvery', o.evalEvery, 'an integer ≥ 1');
      optionCheck(
        typeof o.evalFn === 'function',
        'evalFn',
        typeof o.evalFn,
        'a function when evalEvery is set',
      );
    }
    if (o.earlyStopping !== undefined) {
      optionCheck(
        isPositiveInt(o.earlyStopping?.patience),
        'earlyStopping.patience',
        o.earlyStopping?.patience,
        'an integer ≥ 1',
      );
      const mode = o.earlyStopping.mode ?? 'min';
      optionCheck(mode === 'min' || mode === 'max', 'earlyStopping.mode', mode, "'min' or 'max'");
      const d = o.earlyStopping.minDelta ?? 0;
      optionCheck(Number.isFinite(d) && d >= 0, 'earlyStopping.minDelta', d, 'a finite number ≥ 0');
      optionCheck(o.evalEvery !== undefined, 'evalEvery', o.evalEvery, 'set when earlyStopping is used');
    }
    if (o.checkpointEvery !== undefined) {
      optionCheck(isPositiveInt(o.checkpointEvery), 'checkpointEvery', o.checkpointEvery, 'an integer ≥ 1');
      optionCheck(
        typeof o.checkpointDir === 'string' && o.checkpointDir.length > 0,
        'checkpointDir',
        o.checkpointDir,
        'a directory path when checkpointEvery is set',
      );
      requirePathFiles('Trainer: checkpointDir'); // fail now, not at the first periodic save
    }
    if (o.keepLastCheckpoints !== undefined) {
      optionCheck(
        isPositiveInt(o.keepLastCheckpoints),
        'keepLastCheckpoints',
        o.keepLastCheckpoints,
        'an integer ≥ 1',
      );
    }
    if (o.seed !== undefined) optionCheck(Number.isFinite(o.seed), 'seed', o.seed, 'a finite number');

    this.options = o;
    this.model = o.model;
    this.accumulation = k;
    this.params = this.model.namedParameters().filter(([, p]) => p.trainable);
    check(
      this.params.length > 0,
      'INVALID_CONFIG',
      () => `Trainer: the model (${this.model.typeName}) has no trainable parameters`,
      () => ({ field: 'model' }),
    );
    // The schedule is validated first: a bad schedule must not leave optimizer state allocated.
    this.schedule = this.buildSchedule(o, o.optimizer?.lr ?? 1e-3);
    this.optimizer = new AdamW(this.params, o.optimizer ?? {});
    this.rng = null;
    if (o.seed !== undefined) this.installRng(new SeededRng(o.seed));
  }

  private buildSchedule(o: TrainerOptions<B>, lr: number): LrSchedule {
    const s = o.schedule;
    if (s === undefined) return constantLr(lr);
    if (typeof s === 'function') return s;
    if ('type' in s) return createSchedule(s as ScheduleConfig);
    const totalSteps = s.totalSteps ?? o.maxSteps;
    check(
      totalSteps !== undefined,
      'INVALID_CONFIG',
      () => 'Trainer: schedule.totalSteps is required when maxSteps is not set',
      () => ({ field: 'schedule.totalSteps' }),
    );
    return linearWarmupCosine({
      baseLr: lr,
      warmupSteps: s.warmupSteps ?? 0,
      totalSteps,
      minLr: s.minLr ?? 0,
    });
  }

  private installRng(rng: SeededRng): void {
    this.rng = rng;
    setRng(rng);
  }

  /** Updates completed. */
  get step(): number {
    return this.stepCount;
  }

  /** The loss of every update so far (index i = update i + 1), including those before a resume. */
  get losses(): readonly number[] {
    return this.lossHistory;
  }

  /** Every evaluation so far. */
  get evals(): readonly EvalRecord[] {
    return this.evalHistory;
  }

  /** Tokens counted so far. */
  get tokens(): number {
    return this.tokenCount;
  }

  /** Paths of the parameters being trained. */
  trainablePaths(): string[] {
    return this.params.map(([p]) => p);
  }

  /**
   * One forward/backward pass per micro-batch: the gradient of `Σ_k loss_k / k` (auxiliary losses
   * included), keyed by variable, and the summed loss. The caller disposes the returned tensors.
   */
  private computeGradients(batches: readonly B[]): { loss: Tensor; grads: Map<Variable, Tensor> } {
    const k = batches.length;
    const vars = this.params.map(([, p]) => p);
    const acc = new Map<Variable, Tensor>();
    let lossAcc: Tensor | null = null;
    const useAux = this.options.auxiliaryLosses ?? true;
    const collect = (this.model as { collectAuxiliaryLosses?: unknown }).collectAuxiliaryLosses;
    try {
      for (const batch of batches) {
        // A shape problem is recorded and thrown after variableGrads returns: throwing inside the
        // differentiated function would leave TensorFlow.js's gradient tape (and its saved tensors) behind.
        let deferred: AdapterError | null = null;
        const { value, grads } = tf.variableGrads(() => {
          let loss: Tensor = this.options.loss(batch, this.model);
          check(
            loss instanceof tf.Tensor,
            'INVALID_INPUT',
            () => `Trainer: loss must return a 0-d tensor, got ${typeof loss}`,
          );
          if (loss.rank !== 0) {
            deferred = new AdapterError(
              'INVALID_INPUT',
              `Trainer: loss must return a 0-d tensor, got shape [${loss.shape.join(', ')}]`,
            );
            loss = tf.sum(loss);
          }
          if (useAux && typeof collect === 'function') {
            const aux = (collect as (o: { reset: boolean }) => { total?: unknown } | undefined).call(
              this.model,
              { reset: true },
            );
            const total = aux?.total;
            if (total instanceof tf.Tensor) {
              if (total.rank !== 0) {
                deferred ??= new AdapterError(
                  'INVALID_INPUT',
                  `Trainer: collectAuxiliaryLosses().total must be a 0-d tensor, got shape [${total.shape.join(', ')}]`,
                );
              }
              loss = tf.add(loss, tf.sum(total));
            } else if (typeof total === 'number' && total !== 0) {
              loss = tf.add(loss, total);
            }
          }
          return (k > 1 ? tf.div(loss, k) : loss) as tf.Scalar;
        }, vars);
        if (deferred) {
          tf.dispose([value, ...Object.values(grads).filter((g): g is Tensor => g !== null)]);
          throw deferred;
        }
        for (const v of vars) {
          const g = grads[v.name];
          if (!g) continue;
          const prev = acc.get(v);
          if (prev) {
            acc.set(v, tf.add(prev, g));
            prev.dispose();
            g.dispose();
          } else {
            acc.set(v, g);
          }
        }
        if (lossAcc) {
          const next: Tensor = tf.add(lossAcc, value);
          lossAcc.dispose();
          value.dispose();
          lossAcc = next;
        } else {
          lossAcc = value;
        }
      }
    } catch (e) {
      tf.dispose([...acc.values()]);
      lossAcc?.dispose();
      throw e;
    }
    return { loss: lossAcc!, grads: acc };
  }

  /**
   * Runs one optimizer update on `batches` (exactly `gradAccumulationSteps` micro-batches), records its
   * loss and reports it through `onStep`. Evaluation and checkpoints are `fit`'s job.
   */
  async trainStep(batches: readonly B[]): Promise<StepInfo> {
    check(
      Array.isArray(batches) && batches.length === this.accumulation,
      'INVALID_INPUT',
      () =>
        `Trainer.trainStep: expected ${this.accumulation} micro-batch(es) (gradAccumulationSteps), got ${Array.isArray(batches) ? batches.length : typeof batches}`,
    );
    const lr = this.schedule(this.stepCount);
    const { loss, grads: accumulated } = this.computeGradients(batches);
    let grads = accumulated;
    // Scalars stay on the device until the update is queued, then are read asynchronously: a
    // synchronous read per step stalls webgl and breaks webgpu.
    let normT: tf.Scalar | null = null;
    try {
      if (this.options.onGradients) {
        const byPath = new Map<string, Tensor>();
        for (const [path, v] of this.params) {
          const g = grads.get(v);
          if (g) byPath.set(path, g);
        }
        this.options.onGradients(byPath, this.stepCount + 1);
      }
      const maxNorm = this.options.maxGradNorm;
      if (maxNorm !== undefined && maxNorm !== null) {
        const clipped = clipGradNormOnDevice(grads, maxNorm);
        normT = clipped.totalNorm;
        clipped.clipCoef.dispose();
        tf.dispose([...grads.values()]);
        grads = clipped.grads as Map<Variable, Tensor>;
      }
      this.optimizer.step(grads, lr);
    } catch (e) {
      loss.dispose();
      normT?.dispose();
      throw e;
    } finally {
      tf.dispose([...grads.values()]);
    }
    let lossValue: number;
    let gradNorm: number | null = null;
    try {
      const [lossData, normData] = await Promise.all([loss.data(), normT?.data()]);
      lossValue = lossData[0]!;
      if (normData) gradNorm = normData[0]!;
    } finally {
      loss.dispose();
      normT?.dispose();
    }
    let tokens = 0;
    if (this.options.countTokens) for (const b of batches) tokens += this.options.countTokens(b);
    if (this.options.disposeBatches) for (const b of batches) disposeTensorsIn(b);
    this.stepCount += 1;
    this.tokenCount += tokens;
    this.lossHistory.push(lossValue);
    const info: StepInfo = {
      step: this.stepCount,
      loss: lossValue,
      lr,
      tokens,
      totalTokens: this.tokenCount,
      elapsedMs: performance.now() - this.clockStart,
      gradNorm,
    };
    await this.options.onStep?.(info);
    return info;
  }

  /**
   * Runs `evalFn` with the model in eval mode (every module's mode is restored afterwards), records the
   * metric and updates the early-stopping state.
   */
  async evaluate(): Promise<EvalInfo> {
    const evalFn = this.options.evalFn;
    check(
      typeof evalFn === 'function',
      'INVALID_CONFIG',
      () => 'Trainer.evaluate: no evalFn was given',
      () => ({ field: 'evalFn' }),
    );
    const metric = await this.model.inEvalMode(() => evalFn(this.model, this.stepCount));
    check(
      typeof metric === 'number',
      'INVALID_INPUT',
      () => `Trainer: evalFn must return a number, got ${typeof metric}`,
    );
    const es = this.options.earlyStopping;
    const mode = es?.mode ?? 'min';
    const minDelta = es?.minDelta ?? 0;
    const best = this.early.best;
    const improved =
      !Number.isNaN(metric) &&
      (best === null || (mode === 'min' ? metric < best - minDelta : metric > best + minDelta));
    if (improved) this.early = { best: metric, bestStep: this.stepCount, badEvals: 0 };
    else this.early = { ...this.early, badEvals: this.early.badEvals + 1 };
    const record = { step: this.stepCount, metric };
    this.evalHistory.push(record);
    const info: EvalInfo = { ...record, improved, best: this.early.best };
    await this.options.onEval?.(info);
    return info;
  }

  /** Whether early stopping's patience is exhausted. */
  get shouldStop(): boolean {
    const es = this.options.earlyStopping;
    return es !== undefined && this.early.badEvals >= es.patience;
  }

  /**
   * Trains until `steps` updates in total (default `maxSteps`), early stopping, or the end of an iterable
   * source. Evaluates every `evalEvery` and checkpoints every `checkpointEvery` updates (counted from step
   * 0, so a resumed run keeps the same schedule).
   */
  async fit(data: BatchSource<B>, opts: FitOptions = {}): Promise<FitResult> {
    const target = opts.steps ?? this.options.maxSteps;
    check(
      Number.isInteger(target) && (target as number) >= 0,
      'INVALID_CONFIG',
      () =>
        `Trainer.fit: the number of steps must be an integer ≥ 0 (fit({steps}) or maxSteps), got ${JSON.stringify(target)}`,
      () => ({ field: 'steps', value: target }),
    );
    const next = this.batchReader(data, opts.skipMicroBatches ?? 0);
    this.clockStart = performance.now();
    let stopReason: StopReason = 'maxSteps';
    if (this.shouldStop) stopReason = 'earlyStopping';
    while (stopReason === 'maxSteps' && this.stepCount < (target as number)) {
      const batches: B[] = [];
      for (let micro = 0; micro < this.accumulation; micro++) {
        const r = await next(this.stepCount, micro);
        if (r.done) break;
        batches.push(r.value);
      }
      if (batches.length < this.accumulation) {
        stopReason = 'dataExhausted';
        break;
      }
      await this.trainStep(batches);
      const s = this.stepCount;
      if (this.options.evalEvery !== undefined && s % this.options.evalEvery === 0) {
        await this.evaluate();
        if (this.shouldStop) stopReason = 'earlyStopping';
      }
      if (this.options.checkpointEvery !== undefined && s % this.options.checkpointEvery === 0) {
        await this.saveCheckpoint();
      }
    }
    return {
      step: this.stepCount,
      losses: [...this.lossHistory],
      evals: [...this.evalHistory],
      stopReason,
      bestMetric: this.early.best,
      bestStep: this.early.bestStep,
    };
  }

  private batchReader(
    data: BatchSource<B>,
    skip: number,
  ): (step: number, micro: number) => Promise<IteratorResult<B>> {
    if (typeof data === 'function') {
      return async (step, micro) => ({ done: false, value: await data(step, micro) });
    }
    const it: Iterator<B> | AsyncIterator<B> | undefined =
      data !== null && typeof data === 'object' && Symbol.asyncIterator in data
        ? (data as AsyncIterable<B>)[Symbol.asyncIterator]()
        : data !== null && typeof data === 'object' && Symbol.iterator in data
          ? (data as Iterable<B>)[Symbol.iterator]()
          : undefined;
    if (!it)
      throw new AdapterError(
        'INVALID_INPUT',
        'Trainer.fit: data must be a function (step, microStep) => batch, an iterable or an async iterable',
      );
    let toSkip = skip;
    return async () => {
      while (toSkip > 0) {
        toSkip--;
        const r = await it.next();
        if (r.done) return r;
      }
      return it.next();
    };
  }

  /** A snapshot of the run's full state (parameters, optimizer, RNG, history) at the current step. */
  checkpoint(): TrainerCheckpoint {
    const params = new Map<string, CheckpointArray>();
    for (const [path, p] of this.params) params.set(path, toArray(p));
    const buffers = new Map<string, CheckpointArray>();
    for (const [path, b] of this.model.namedBuffers({ persistentOnly: true })) buffers.set(path, toArray(b));
    return {
      step: this.stepCount,
      tokens: this.tokenCount,
      params,
      buffers,
      optimizer: this.optimizer.getState(),
      rngState: this.rng ? this.rng.getState() : null,
      losses: [...this.lossHistory],
      evals: this.evalHistory.map((e) => ({ ...e })),
      earlyStopping: { ...this.early },
    };
  }

  /**
   * Restores a snapshot from {@link Trainer.checkpoint}. The checkpoint's parameters must be exactly this
   * trainer's trainable parameters (same paths and shapes), else `CHECKPOINT_MISMATCH`; everything is
   * checked before anything changes. A seeded checkpoint installs its RNG state.
   */
  restore(ckpt: TrainerCheckpoint): void {
    const problems: string[] = [];
    const mine = new Map(this.params);
    for (const path of mine.keys())
      if (!ckpt.params.has(path)) problems.push(`trainable parameter '${path}' is not in the checkpoint`);
    for (const [path, a] of ckpt.params) {
      const p = mine.get(path);
      if (!p) problems.push(`checkpoint parameter '${path}' is not a trainable parameter of the model`);
      else if (a.shape.length !== p.shape.length || a.shape.some((d, i) => d !== p.shape[i])) {
        problems.push(
          `'${path}': checkpoint shape [${a.shape.join(', ')}], model shape [${p.shape.join(', ')}]`,
        );
      }
    }
    const buffers = new Map(this.model.namedBuffers({ persistentOnly: true }));
    for (const [path, a] of ckpt.buffers) {
      const b = buffers.get(path);
      if (!b) problems.push(`checkpoint buffer '${path}' is not a buffer of the model`);
      else if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
        problems.push(
          `buffer '${path}': checkpoint shape [${a.shape.join(', ')}], model shape [${b.shape.join(', ')}]`,
        );
      }
    }
    if (ckpt.losses.length !== ckpt.step)
      problems.push(`the checkpoint holds ${ckpt.losses.length} losses for ${ckpt.step} steps`);
    if (problems.length) {
      throw new AdapterError(
        'CHECKPOINT_MISMATCH',
        `Trainer.restore: the checkpoint does not fit this model: ${problems.join('; ')}`,
        {
          problems,
        },
      );
    }
    try {
      this.optimizer.setState(ckpt.optimizer);
    } catch (e) {
      if (e instanceof AdapterError)
        throw new AdapterError('CHECKPOINT_MISMATCH', `Trainer.restore: ${e.message}`, e.details);
      throw e;
    }
    const sd = new Map<string, Tensor>();
    for (const [path, a] of [...ckpt.params, ...ckpt.buffers])
      sd.set(path, tf.tensor(a.data, a.shape, a.dtype));
    try {
      this.model.loadStateDict(sd, { strict: false });
    } finally {
      tf.dispose([...sd.values()]);
    }
    this.stepCount = ckpt.step;
    this.tokenCount = ckpt.tokens;
    this.lossHistory.splice(0, this.lossHistory.length, ...ckpt.losses);
    this.evalHistory.splice(0, this.evalHistory.length, ...ckpt.evals.map((e) => ({ ...e })));
    this.early = { ...ckpt.earlyStopping };
    if (ckpt.rngState !== null) {
      if (!this.rng) this.installRng(new SeededRng(0));
      else setRng(this.rng);
      this.rng!.setState(ckpt.rngState);
    }
  }

  /**
   * Saves a checkpoint atomically to `file` (default: `checkpointDir/checkpoint-<step>.safetensors`) and
   * prunes old periodic checkpoints when `keepLastCheckpoints` is set. Returns the file written. Needs
   * file access: in Node, import from `adapterkit/node`; elsewhere keep {@link Trainer.checkpoint} in memory.
   */
  async saveCheckpoint(file?: string): Promise<string> {
    const files = requirePathFiles('Trainer.saveCheckpoint');
    const dir = this.options.checkpointDir;
    let target = file;
    if (target === undefined) {
      check(
        typeof dir === 'string',
        'INVALID_CONFIG',
        () => 'Trainer.saveCheckpoint: give a file or set checkpointDir',
        () => ({ field: 'checkpointDir' }),
      );
      target = files.join(dir, checkpointFileName(this.stepCount));
    }
    await files.writeFile(target, encodeTrainerCheckpoint(this.checkpoint()));
    const keep = this.options.keepLastCheckpoints;
    if (file === undefined && keep !== undefined && dir !== undefined) {
      const all = await trainerCheckpointsIn(files, dir);
      for (const old of all.slice(0, Math.max(0, all.length - keep))) await files.remove(old.file);
    }
    return target;
  }

  /**
   * Loads a checkpoint file, or the newest `checkpoint-*.safetensors` of a directory, and restores it
   * (see {@link Trainer.restore}). Returns the file loaded. Needs file access: in Node, import from
   * `adapterkit/node`; elsewhere restore a {@link TrainerCheckpoint} with {@link Trainer.restore}.
   */
  async loadCheckpoint(fileOrDir: string): Promise<string> {
    const files = requirePathFiles('Trainer.loadCheckpoint');
    let file = fileOrDir;
    const kind = await files.kind(fileOrDir);
    check(
      kind !== null,
      'INVALID_INPUT',
      () => `Trainer.loadCheckpoint: no such file or directory: ${fileOrDir}`,
      () => ({ path: fileOrDir }),
    );
    if (kind === 'directory') {
      const all = await trainerCheckpointsIn(files, fileOrDir);
      check(
        all.length > 0,
        'INVALID_INPUT',
        () => `Trainer.loadCheckpoint: no checkpoint-*.safetensors file in ${fileOrDir}`,
      );
      file = all[all.length - 1]!.file;
    }
    const bytes = await files.readFile(file);
    check(
      bytes !== null,
      'CHECKPOINT_FORMAT',
      () => `no such file: ${file}`,
      () => ({ path: file }),
    );
    this.restore(decodeTrainerCheckpoint(bytes, file));
    return file;
  }

  /** Frees the optimizer state. The model is not touched. */
  dispose(): void {
    this.optimizer.dispose();
  }
}
