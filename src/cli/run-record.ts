/**
 * `run.json`: what an `adapt` run records when it starts — the base model it adapts (path and shape)
 * and its settings — so the commands that use the run afterwards (`eval`, `generate`, `export`,
 * `merge`, `adapt --resume`) find its base without being told, and refuse a base of another shape.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { AdapterError } from '../errors.js';
import type { CharLMConfig } from '../models/char-lm.js';

/** File name of the record in a run directory. */
export const RUN_RECORD_FILE = 'run.json';

/** The shape of a base model, enough to tell whether an adapter fits it. */
export interface BaseShape {
  dModel: number;
  numLayers: number;
  vocabSize: number;
  maxLen: number;
}

/** What `run.json` holds. */
export interface RunRecord {
  command: 'adapt';
  /** The base model: absolute path of its checkpoint directory, and its shape. */
  base: { path: string } & BaseShape;
  /** The command's settings (flags after defaults). */
  options: Record<string, unknown>;
}

/** The shape fields of a character LM config. */
export function baseShape(cfg: CharLMConfig): BaseShape {
  return { dModel: cfg.dModel, numLayers: cfg.numLayers, vocabSize: cfg.vocabSize, maxLen: cfg.maxLen };
}

/** Writes `run.json` into `runDir`. */
export async function writeRunRecord(
  runDir: string,
  baseDir: string,
  cfg: CharLMConfig,
  options: Record<string, unknown>,
): Promise<void> {
  const record: RunRecord = {
    command: 'adapt',
    base: { path: resolve(baseDir), ...baseShape(cfg) },
    options,
  };
  await writeFile(join(runDir, RUN_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
}

/** Reads `run.json` of `runDir`, or null when there is none. */
export async function readRunRecord(runDir: string): Promise<RunRecord | null> {
  const file = join(runDir, RUN_RECORD_FILE);
  const text = await readFile(file, 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const rec = JSON.parse(text) as RunRecord;
    if (typeof rec?.base?.path !== 'string' || typeof rec.base.dModel !== 'number')
      throw new Error('no base');
    return rec;
  } catch {
    throw new AdapterError(
      'CHECKPOINT_FORMAT',
      `${file} is not a run record (expected JSON with base.path and base.dModel, as \`adapterkit adapt\` writes)`,
    );
  }
}

/**
 * The run record of the run that wrote `artefact` (a file or directory in a run directory, like
 * `runs/x/peft` or `runs/x/adapter.safetensors`, or the run directory itself), or null.
 */
export async function runRecordOf(artefact: string): Promise<RunRecord | null> {
  return (await readRunRecord(artefact)) ?? (await readRunRecord(dirname(resolve(artefact))));
}

/**
 * Throws a one-line error when an adapter trained on `trained` cannot run on `base` (another width, depth
 * or vocabulary).
 */
export function checkSameShape(what: string, trained: BaseShape, base: BaseShape, baseDir: string): void {
  const fields: Array<[keyof BaseShape, string]> = [
    ['dModel', 'd_model'],
    ['numLayers', 'layers'],
    ['vocabSize', 'vocabulary size'],
  ];
  const differ = fields.filter(([k]) => trained[k] !== base[k]);
  if (differ.length === 0) return;
  const list = (s: BaseShape) => differ.map(([k, label]) => `${label} ${s[k]}`).join(', ');
  throw new AdapterError(
    'CHECKPOINT_MISMATCH',
    `${what} was trained for ${list(trained)}, this base (${baseDir}) has ${list(base)}; pass the --base it was trained on`,
    { trained, base },
  );
}
