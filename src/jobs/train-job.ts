/**
 * Running one adapter-training job, independent of the queue: validate, skip if this job's adapter
 * is already stored, train with periodic checkpoints (a retry resumes from the newest), evaluate,
 * and put the adapter into the store with its manifest. Also the flow's evaluate and export steps.
 * Node only.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import '../adapters/builtins.js'; // the adapter kinds a job may attach or load
import { AdapterError } from '../errors.js';
import { loadAdapters, saveAdapters } from '../io/adapter-file.js';
import { peftFiles } from '../io/peft.js';
import { loadPretrained, type PeftModel } from '../io/peft-model.js';
import type { AdapterStore, PutResult } from '../store/adapter-store.js';
import { STORE_ADAPTER_FILE, STORE_PEFT_DIR, type AdapterManifest } from '../store/manifest.js';
import { adaptCharLm, ADAPTER_NAME, DEFAULT_LR, type AdaptMethod } from '../recipes/adapt.js';
import { loadBaseModel, type BaseModel } from '../recipes/base-model.js';
import { listTrainerCheckpoints } from '../train/checkpoint-files.js';
import { evaluateBpc, type LanguageModel } from '../recipes/lm.js';
import { loadJobText } from './job-data.js';
import {
  evaluateJobSchema,
  exportJobSchema,
  parsePayload,
  PEFT_JOB_METHODS,
  trainJobSchema,
  type JobMethod,
} from './payload.js';

/** Progress a training job reports. */
export interface TrainProgress {
  step: number;
  steps: number;
  loss: number;
  tokensPerSecond: number;
  /** The step this attempt resumed from (0 when it started afresh). */
  resumedFromStep: number;
  /** The newest step whose checkpoint is saved: a retry resumes from here (0 before the first). */
  checkpointedStep: number;
}

/** What a job runner needs from where it runs. */
export interface JobContext {
  /** The queue's job id: the key of its checkpoints and its adapter's manifest. */
  jobId: string;
  store: AdapterStore;
  /** Checkpoints go to `<scratchDir>/<jobId>/`; on a shared directory, a retry on another machine resumes too. */
  scratchDir: string;
  onProgress?: (p: TrainProgress) => void;
}

/** What a training job returns (its BullMQ return value). */
export interface TrainJobResult {
  name: string;
  jobId: string;
  contentHash: string;
  /** `written`, `replaced`, or `unchanged` when this job's adapter was already stored (a redelivery). */
  outcome: PutResult['outcome'] | 'already-stored';
  resumedFromStep: number;
  metrics: Record<string, unknown>;
}

/** Runs a training job. Every `AdapterError` it throws is permanent (bad input); other errors may be transient. */
export async function runTrainJob(data: unknown, ctx: JobContext): Promise<TrainJobResult> {
  const job = parsePayload(trainJobSchema, data, 'training job');
  const stored = (await ctx.store.has(job.name)) ? await ctx.store.manifest(job.name) : null;
  if (stored && stored.jobId === ctx.jobId) return resultOf(stored, 'already-stored', 0);
  if (stored && !job.replace) {
    throw new AdapterError(
      'DUPLICATE_ADAPTER',
      `the store already holds an adapter '${job.name}' (from job ${stored.jobId ?? 'none'}); choose another name or set replace`,
      { name: job.name },
    );
  }
  const text = await loadJobText(job.data, job.textField);
  const base = await loadBaseOrFail(job.base);
  // A PEFT wrapper (LoRA, VeRA) owns the model and state shared by its layers (VeRA's projections).
  let peft: PeftModel | undefined;
  try {
    const seqLen = job.training.seqLen ?? base.model.cfg.maxLen;
    if (seqLen > base.model.cfg.maxLen) {
      throw new AdapterError(
        'INVALID_CONFIG',
        `training.seqLen ${seqLen} exceeds the base model's context of ${base.model.cfg.maxLen}`,
      );
    }
    const train = base.vocab.encode(text.train);
    const heldOut = base.vocab.encode(text.heldOut);
    for (const [split, ids] of [
      ['training', train],
      ['held-out', heldOut],
    ] as const) {
      if (ids.length <= seqLen)
        throw new AdapterError(
          'INVALID_CONFIG',
          `data ${job.data}: the ${split} text (${ids.length} characters) is shorter than one window of ${seqLen + 1}`,
        );
    }
    const checkpointDir = join(ctx.scratchDir, safeDirName(ctx.jobId));
    await mkdir(checkpointDir, { recursive: true });
    const done = await listTrainerCheckpoints(checkpointDir);
    const resumedFromStep = done.length ? done[done.length - 1]!.step : 0;
    const lr = job.training.lr ?? DEFAULT_LR[job.method.kind];
    const steps = job.training.steps;
    const method = toAdaptMethod(job.method);
    const checkpointEvery = job.training.checkpointEvery ?? Math.max(1, Math.round(steps / 10));
    let lastReport = 0;
    let reportedCheckpoint = -1;
    const result = await adaptCharLm({
      model: base.model,
      method,
      ids: train,
      steps,
      batch: job.training.batch,
      seqLen,
      lr,
      seed: job.seed,
      warmupSteps: job.training.warmupSteps,
      weightDecay: job.training.weightDecay,
      checkpointEvery,
      checkpointDir,
      resume: true,
      onStep: (i) => {
        // The trainer reports a step before checkpointing it, so step s knows the checkpoints before s.
        const checkpointedStep = Math.max(
          resumedFromStep,
          Math.floor((i.step - 1) / checkpointEvery) * checkpointEvery,
        );
        const now = performance.now();
        // Throttled, except for the last step and the first report after each new checkpoint.
        if (i.step !== steps && checkpointedStep === reportedCheckpoint && now - lastReport < 250) return;
        lastReport = now;
        reportedCheckpoint = checkpointedStep;
        ctx.onProgress?.({
          step: i.step,
          steps,
          loss: i.loss,
          tokensPerSecond: i.totalTokens / (i.elapsedMs / 1000),
          resumedFromStep,
          checkpointedStep,
        });
      },
    });
    peft = result.peft;
    const model = result.model as LanguageModel;
    const metrics = {
      steps,
      finalLoss: result.losses.at(-1) ?? null,
      heldOutBpc: evaluateBpc(model, heldOut, {
        seqLen,
        batch: job.training.batch,
        windows: job.training.evalWindows,
      }),
      trainableParams: result.trainableParams,
      totalParams: result.totalParams,
      seconds: result.seconds,
      resumedFromStep,
    };
    const files: Record<string, Uint8Array> = {};
    if (result.peft) {
      for (const [path, bytes] of peftFiles(result.peft))
        files[`${STORE_PEFT_DIR}/${path}`] =
          typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
    } else {
      files[STORE_ADAPTER_FILE] = saveAdapters(base.model, ADAPTER_NAME);
    }
    const put = await ctx.store.put(
      {
        name: job.name,
        jobId: ctx.jobId,
        kind: job.method.kind,
        format: result.peft ? 'peft' : 'adapterkit',
        base: { name: basename(job.base), config: baseConfig(base) },
        config: {
          method: job.method,
          training: { ...job.training, seqLen, lr },
          seed: job.seed,
          data: job.data,
          textField: job.textField,
        },
        metrics,
        files,
      },
      { replace: job.replace },
    );
    await rm(checkpointDir, { recursive: true, force: true });
    return resultOf(put.manifest, put.outcome, resumedFromStep);
  } finally {
    (peft ?? base.model).dispose();
  }
}

/** Result of a flow's evaluate step. */
export interface EvaluateJobResult {
  name: string;
  data: string;
  heldOutBpc: number;
  baseHeldOutBpc: number;
}

/** Evaluates a stored adapter (verified on read) on a data reference's held-out text, with and without the adapter. */
export async function runEvaluateJob(data: unknown, store: AdapterStore): Promise<EvaluateJobResult> {
  const job = parsePayload(evaluateJobSchema, data, 'evaluate job');
  const { manifest, files } = await store.get(job.name);
  const text = await loadJobText(job.data, job.textField);
  const base = await loadBaseOrFail(job.base);
  let peft: PeftModel | undefined;
  try {
    const ids = base.vocab.encode(text.heldOut);
    const seqLen = Math.min(base.model.cfg.maxLen, Math.max(1, ids.length - 1));
    const opts = { seqLen, batch: job.batch, windows: job.evalWindows };
    const baseHeldOutBpc = evaluateBpc(base.model as unknown as LanguageModel, ids, opts);
    let heldOutBpc: number;
    if (manifest.format === 'peft') {
      const prefix = `${STORE_PEFT_DIR}/`;
      peft = await loadPretrained(base.model, { readFile: (p) => files[prefix + p] ?? null });
      heldOutBpc = evaluateBpc(peft as unknown as LanguageModel, ids, opts);
    } else {
      loadAdapters(base.model, files[STORE_ADAPTER_FILE]!);
      heldOutBpc = evaluateBpc(base.model as unknown as LanguageModel, ids, opts);
    }
    return { name: job.name, data: job.data, heldOutBpc, baseHeldOutBpc };
  } finally {
    (peft ?? base.model).dispose();
  }
}

/** Result of a flow's export step. */
export interface ExportJobResult {
  name: string;
  out: string;
  files: string[];
}

/** Writes a stored LoRA or VeRA adapter's verified PEFT files to `out` (a directory PEFT's `from_pretrained` reads). */
export async function runExportJob(data: unknown, store: AdapterStore): Promise<ExportJobResult> {
  const job = parsePayload(exportJobSchema, data, 'export job');
  const { manifest, files } = await store.get(job.name);
  if (manifest.format !== 'peft') {
    throw new AdapterError(
      'UNSUPPORTED_FEATURE',
      `adapter '${job.name}' is a ${manifest.kind} adapter stored as ${manifest.format}; only adapters stored as peft export to PEFT (methods ${PEFT_JOB_METHODS.join(', ')})`,
    );
  }
  const written: string[] = [];
  const prefix = `${STORE_PEFT_DIR}/`;
  for (const [path, bytes] of Object.entries(files)) {
    if (!path.startsWith(prefix)) continue;
    const target = join(job.out, path.slice(prefix.length));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
    written.push(path.slice(prefix.length));
  }
  return { name: job.name, out: job.out, files: written.sort() };
}

async function loadBaseOrFail(dir: string): Promise<BaseModel> {
  try {
    return await loadBaseModel(dir);
  } catch (e) {
    if (e instanceof AdapterError)
      throw new AdapterError(e.code, `base model ${JSON.stringify(dir)}: ${e.message}`, { base: dir });
    throw e;
  }
}

/** The recipe's method for a job's method: the same options, with `adapt`'s defaults filled in. */
function toAdaptMethod(m: JobMethod): AdaptMethod {
  const heads = m.modulesToSave ? { modulesToSave: m.modulesToSave } : {};
  switch (m.kind) {
    case 'lora':
      return {
        kind: 'lora',
        r: m.r,
        alpha: m.alpha ?? 2 * m.r,
        targetModules: m.targetModules,
        dropout: m.dropout,
        ...heads,
      };
    case 'vera':
      return {
        kind: 'vera',
        r: m.r,
        targetModules: m.targetModules,
        dropout: m.dropout,
        projectionPrngKey: m.projectionPrngKey,
        ...heads,
      };
    case 'parallel':
      return { kind: 'parallel', dim: m.dim, scaling: m.scaling, ...heads };
    case 'linear':
      return {
        kind: 'linear',
        dim: m.dim,
        activation: m.activation,
        normPosition: m.normPosition,
        dropout: m.dropout,
        ...heads,
      };
    case 'prefix':
    case 'mam': {
      const prefix = {
        numVirtualTokens: m.numVirtualTokens,
        prefixProjection: m.prefixProjection,
        encoderHiddenSize: m.encoderHiddenSize,
      };
      return m.kind === 'prefix'
        ? { kind: 'prefix', ...prefix, ...heads }
        : { kind: 'mam', dim: m.dim, scaling: m.scaling, ...prefix, ...heads };
    }
  }
}

/** The base model's config without its vocabulary (large, and identified by the base's name). */
function baseConfig(base: BaseModel): Record<string, unknown> {
  const { vocab: _vocab, ...cfg } = base.model.cfg as unknown as Record<string, unknown>;
  return cfg;
}

function resultOf(
  m: AdapterManifest,
  outcome: TrainJobResult['outcome'],
  resumedFromStep: number,
): TrainJobResult {
  return {
    name: m.name,
    jobId: m.jobId ?? '',
    contentHash: m.contentHash,
    outcome,
    resumedFromStep,
    metrics: m.metrics,
  };
}

/** Job ids may hold ':' or '/'; checkpoint directories get a safe spelling. */
function safeDirName(jobId: string): string {
  return jobId.replace(/[^A-Za-z0-9._-]/g, '_');
}
