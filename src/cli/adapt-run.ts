/**
 * One adaptation run as the CLI does it: load the base model, attach a method, train on a corpus,
 * evaluate held-out bits per character on the target and the source corpus (and, for adapter
 * methods, with the adapter disabled), save what was trained, and write `result.json` into the run
 * directory. While it trains, `metrics.jsonl` gets one JSON line per step as it happens and
 * `checkpoints/` holds the newest resumable checkpoint, so a run stopped by a signal keeps both and
 * `adapt --resume` continues it; a finished run removes its checkpoints.
 */
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listTrainerCheckpoints } from '../train/checkpoint-files.js';
import { Interrupted, stoppableTask, throwIfInterrupted } from './interrupt.js';
import { writeRunRecord } from './run-record.js';
import type { TextCorpusName } from '../data/datasets.js';
import { saveAdaptersToFile, saveModelToDir } from '../io/files-by-path.js';
import type { CharLM } from '../models/char-lm.js';
import { savePretrained } from '../io/peft.js';
import { adaptCharLm, ADAPTER_NAME, type AdaptMethod, type AdaptResult } from '../recipes/adapt.js';
import { evaluateBpc, type LanguageModel } from '../recipes/lm.js';
import { DEFAULT_BASE_DIR, encodeCorpus, loadBaseModel } from './base-model.js';
import type { Progress } from './progress.js';

/** Settings of one run. */
export interface AdaptRunOptions {
  /** Method label used in reports, e.g. `linear-adapter`. */
  name: string;
  baseDir?: string;
  dataset: TextCorpusName;
  /** The corpus the base model was trained on (evaluated to show what adaptation forgot). */
  sourceDataset: TextCorpusName;
  method: AdaptMethod;
  steps: number;
  batch: number;
  seqLen?: number;
  lr: number;
  seed: number;
  /** Evenly spaced evaluation windows; undefined: every window. */
  evalWindows?: number;
  outDir: string;
  /** Save a resumable checkpoint every this many steps (the newest is kept until the run finishes). */
  checkpointEvery: number;
  /** Continue the run in `outDir` from its newest checkpoint. */
  resume?: boolean;
  /** Settings recorded in `run.json` (the command's flags). */
  recordedOptions?: Record<string, unknown>;
  /**
   * Tuning mode: train on the training text minus its validation part and report bits per
   * character on the validation part, so hyper-parameters are chosen without the held-out text.
   */
  tune?: boolean;
}

/** What a run reports (`result.json`). */
export interface AdaptRecord {
  name: string;
  method: AdaptMethod;
  dataset: string;
  /** `heldOut`, or `validation` in tuning mode: where `heldOutBpc` was measured. */
  evalSplit: 'heldOut' | 'validation';
  steps: number;
  batch: number;
  seqLen: number;
  lr: number;
  seed: number;
  trainableParams: number;
  totalParams: number;
  trainablePercent: number;
  heldOutBpc: number;
  sourceHeldOutBpc: number;
  /** With the adapter disabled (adapter methods only): must equal the base model's figures. */
  disabledHeldOutBpc?: number;
  disabledSourceHeldOutBpc?: number;
  seconds: number;
  tokensPerSecond: number;
  finalLoss: number;
  saved: string;
}

/** Saves what a run trained: the adapter file, the PEFT directory (LoRA), or the whole model (full). */
async function saveMethod(model: CharLM, result: AdaptResult, outDir: string): Promise<string> {
  if (result.peft) {
    const dir = join(outDir, 'peft');
    await savePretrained(result.peft, dir);
    return dir;
  }
  if (!result.withAdapterDisabled) {
    const dir = join(outDir, 'model');
    await saveModelToDir(model, dir);
    return dir;
  }
  const file = join(outDir, 'adapter.safetensors');
  await saveAdaptersToFile(model, file, ADAPTER_NAME);
  return file;
}

/** Keeps the lines of `metrics.jsonl` up to `step` (a resumed run appends from there). */
async function truncateMetrics(file: string, step: number): Promise<void> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const kept = text.split('\n').filter((line) => {
    if (line.trim() === '') return false;
    try {
      return (JSON.parse(line) as { step: number }).step <= step;
    } catch {
      return false; // a line cut short when the process was killed
    }
  });
  await writeFile(file, kept.map((l) => `${l}\n`).join(''));
}

/** Runs one adaptation and writes its run directory (which must already exist). */
export async function runAdapt(o: AdaptRunOptions, progress: Progress): Promise<AdaptRecord> {
  const baseDir = o.baseDir ?? DEFAULT_BASE_DIR;
  const base = await loadBaseModel(baseDir);
  const seqLen = o.seqLen ?? base.model.cfg.maxLen;
  const metricsFile = join(o.outDir, 'metrics.jsonl');
  const checkpointDir = join(o.outDir, 'checkpoints');
  let resumeStep = 0;
  if (o.resume) {
    const latest = (await listTrainerCheckpoints(checkpointDir)).at(-1);
    resumeStep = latest?.step ?? 0;
    await truncateMetrics(metricsFile, resumeStep);
  } else {
    await writeRunRecord(o.outDir, baseDir, base.model.cfg, o.recordedOptions ?? {});
    await writeFile(metricsFile, '');
  }
  let lastStep = resumeStep;
  const result = await stoppableTask(() =>
    adaptCharLm({
      model: base.model,
      method: o.method,
      ids: encodeCorpus(base.vocab, o.dataset, o.tune ? 'tuneTrain' : 'train'),
      steps: o.steps,
      batch: o.batch,
      seqLen,
      lr: o.lr,
      seed: o.seed,
      checkpointEvery: o.checkpointEvery,
      checkpointDir,
      resume: o.resume,
      onStep: async (i) => {
        const tokensPerSecond = i.totalTokens / (i.elapsedMs / 1000);
        // Appended as it happens (awaited, so the line is on disk before the next step starts).
        await appendFile(
          metricsFile,
          `${JSON.stringify({ step: i.step, loss: i.loss, lr: i.lr, tokens: i.totalTokens, elapsedMs: Math.round(i.elapsedMs), tokensPerSecond })}\n`,
        );
        lastStep = i.step;
        progress.update({ step: i.step, loss: i.loss, tokensPerSecond });
        throwIfInterrupted();
      },
    }),
  ).catch(async (e) => {
    progress.stop();
    if (!(e instanceof Interrupted)) throw e;
    const ckpt = (await listTrainerCheckpoints(checkpointDir)).at(-1);
    const kept = ckpt
      ? `the checkpoint of step ${ckpt.step}`
      : `no checkpoint yet (one is saved every ${o.checkpointEvery} steps)`;
    throw new Interrupted(
      e.signal,
      `interrupted by ${e.signal} after step ${lastStep} of ${o.steps}; ${o.outDir} keeps metrics.jsonl and ${kept}: continue with adapt --resume --out ${o.outDir}, or start again with --force`,
    );
  });
  progress.stop();
  const evalSplit = o.tune ? 'validation' : 'heldOut';
  const target = encodeCorpus(base.vocab, o.dataset, evalSplit);
  const source = encodeCorpus(base.vocab, o.sourceDataset, evalSplit);
  const bpc = (m: LanguageModel, ids: Int32Array) =>
    evaluateBpc(m, ids, { seqLen, batch: o.batch, windows: o.evalWindows });
  throwIfInterrupted();
  const record: AdaptRecord = {
    name: o.name,
    method: o.method,
    dataset: o.dataset,
    evalSplit,
    steps: o.steps,
    batch: o.batch,
    seqLen,
    lr: o.lr,
    seed: o.seed,
    trainableParams: result.trainableParams,
    totalParams: result.totalParams,
    trainablePercent: (100 * result.trainableParams) / result.totalParams,
    heldOutBpc: bpc(result.model, target),
    sourceHeldOutBpc: bpc(result.model, source),
    seconds: result.seconds,
    tokensPerSecond: result.tokensPerSecond,
    finalLoss: result.losses.at(-1)!,
    saved: '',
  };
  if (result.withAdapterDisabled) {
    record.disabledHeldOutBpc = result.withAdapterDisabled(() => bpc(result.model, target));
    record.disabledSourceHeldOutBpc = result.withAdapterDisabled(() => bpc(result.model, source));
  }
  record.saved = await saveMethod(base.model, result, o.outDir);
  await writeFile(join(o.outDir, 'result.json'), `${JSON.stringify(record, null, 2)}\n`);
  await rm(checkpointDir, { recursive: true, force: true });
  return record;
}
