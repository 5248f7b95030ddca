/**
 * A training loop for any {@link Module}: AdamW over the trainable parameters only, learning-rate schedule,
 * global-norm clipping, gradient accumulation, auxiliary losses, periodic evaluation with early stopping,
 * atomic checkpoints and exact resume.
 */
import { tf, type Tensor, type Variable } from '../backend/tf.js';
import { AdapterError, check } from '../errors.js';
import type { Module } from '../nn/module.js';
import { setRng } from '../rng.js';
import { AdamW } from './adamw.js';
import { requirePathFiles } from '../io/path-files.js';
import {
  parseTrainerOptions,
  type EvalInfo,
  type ParsedTrainerOptions,
  type StepInfo,
  type TrainerOptions,
} from './trainer-options.js';
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

export type {
  AuxiliaryLossFn,
  AuxiliaryLossSource,
  EarlyStoppingOptions,
  EvalInfo,
  ParsedTrainerOptions,
  StepInfo,
  TrainerOptions,
  TrainerScheduleOptions,
} from './trainer-options.js';

/**
 * Where batches come from. A function is called as `(step, microStep)` with `step` = updates completed
 * before this one (0-based) and `microStep` in `[0, gradAccumulationSteps)`; since it depends only on the
 * indices, a resumed run sees exactly the batches the uninterrupted run saw. An iterable is read from its
 * current position (pass `skipMicroBatches` to `fit` after a resume).
 */
export type BatchSource<B> =
  ((step: number, microStep: number) => B | Promise<B>) | Iterable<B> | AsyncIterable<B>;

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
 *   auxiliaryLosses: model, // an adapter model: its adapters' auxiliary losses join the loss
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
  private readonly options: ParsedTrainerOptions<B>;
  private readonly params: Array<[string, Variable]>;
  private readonly accumulation: number;
  private stepCount = 0;
  private tokenCount = 0;
  private readonly lossHistory: number[] = [];
  private readonly evalHistory: EvalRecord[] = [];
  private early: EarlyStoppingState = { best: null, bestStep: null, badEvals: 0 };
  private clockStart = performance.now();

  constructor(options: TrainerOptions<B>) {
    const o = parseTrainerOptions(options);
    this.options = o;
    this.model = o.model;
    this.accumulation = o.gradAccumulationSteps;
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

  private buildSchedule(o: ParsedTrainerOptions<B>, lr: number): LrSchedule {
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
    const auxiliaryLosses = this.options.auxiliaryLosses;
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
          if (auxiliaryLosses) {
            const total = auxiliaryLosses();
            if (total instanceof tf.Tensor) {
              if (total.rank !== 0) {
                deferred ??= new AdapterError(
                  'INVALID_INPUT',
                  `Trainer: auxiliaryLosses must give a 0-d tensor, got shape [${total.shape.join(', ')}]`,
                );
              }
              loss = tf.add(loss, tf.sum(total));
            } else if (total !== 0) {
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
