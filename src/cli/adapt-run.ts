/**
 * One adaptation run as the CLI does it: load the base model, attach a method, train on a corpus,
 * evaluate held-out bits per character on the target and the source corpus (and, for adapter
 * methods, with the adapter disabled), save what was trained, and write `result.json` and
 * `metrics.jsonl` into the run directory.
 */
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TextCorpusName } from '../data/datasets.js';
import { saveAdaptersToFile, saveModelToDir } from '../io/files-by-path.js';
import type { CharLM } from '../models/char-lm.js';
import { savePretrained } from '../io/peft.js';
import { adaptCharLm, ADAPTER_NAME, type AdaptMethod, type AdaptResult } from '../train/adapt.js';
import { evaluateBpc, type LanguageModel } from '../train/lm.js';
import { encodeCorpus, loadBaseModel } from './base-model.js';
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
  evalWindows: number;
  outDir: string;
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

/** Runs one adaptation and writes its run directory (which must already exist). */
export async function runAdapt(o: AdaptRunOptions, progress: Progress): Promise<AdaptRecord> {
  const base = await loadBaseModel(o.baseDir);
  const seqLen = o.seqLen ?? base.model.cfg.maxLen;
  const metricsFile = join(o.outDir, 'metrics.jsonl');
  await writeFile(metricsFile, '');
  const lines: string[] = [];
  const result = await adaptCharLm({
    model: base.model,
    method: o.method,
    ids: encodeCorpus(base.vocab, o.dataset, o.tune ? 'tuneTrain' : 'train'),
    steps: o.steps,
    batch: o.batch,
    seqLen,
    lr: o.lr,
    seed: o.seed,
    onStep: (i) => {
      const tokensPerSecond = i.totalTokens / (i.elapsedMs / 1000);
      lines.push(JSON.stringify({ step: i.step, loss: i.loss, lr: i.lr, tokens: i.totalTokens, elapsedMs: Math.round(i.elapsedMs), tokensPerSecond }));
      progress.update({ step: i.step, loss: i.loss, tokensPerSecond });
    },
  });
  progress.stop();
  await appendFile(metricsFile, lines.map((l) => `${l}\n`).join(''));
  const evalSplit = o.tune ? 'validation' : 'heldOut';
  const target = encodeCorpus(base.vocab, o.dataset, evalSplit);
  const source = encodeCorpus(base.vocab, o.sourceDataset, evalSplit);
  const bpc = (m: LanguageModel, ids: Int32Array) => evaluateBpc(m, ids, { seqLen, batch: o.batch, windows: o.evalWindows });
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
  return record;
}
