/**
 * What the commands that use a trained model (`eval`, `generate`) accept: anything `adapterkit adapt`
 * writes — an adapter file, a PEFT directory, a whole-model directory, or the run directory holding one
 * of them — loaded onto the right base model. The base is `--base` when given, else the one the run
 * recorded in `run.json`, else the shipped model; an adapter trained for another base shape is refused
 * in one line.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AdapterError } from '../errors.js';
import { readFileBytes } from '../io/atomic-file.js';
import { loadAdapters, parseAdapterFile } from '../io/adapter-file.js';
import { MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE } from '../io/model-checkpoint.js';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE } from '../io/peft.js';
import { loadPretrained } from '../io/peft-model.js';
import type { CharLM } from '../models/char-lm.js';
import type { CharVocab } from '../data/vocab.js';
import type { LanguageModel } from '../recipes/lm.js';
import { DEFAULT_BASE_DIR, loadBaseModel } from './base-model.js';
import { baseShape, checkSameShape, RUN_RECORD_FILE, runRecordOf } from './run-record.js';

/** The kinds of artefact `adapt` writes. */
export type ArtefactKind = 'adapter-file' | 'peft' | 'model';

/** A located artefact. */
export interface Artefact {
  kind: ArtefactKind;
  path: string;
}

/** The input size fields of adapter configs (SPEC §2.7). */
const INPUT_SIZE_FIELDS = ['inFeatures', 'nFeat', 'hiddenSize'] as const;

const ACCEPTED =
  'an adapter file (.safetensors), a PEFT directory (adapter_config.json), a model directory (config.json + model.safetensors) or an `adapterkit adapt` run directory';

async function filesOf(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** Finds what `path` holds; a run directory resolves to what its run saved. */
export async function locateArtefact(path: string): Promise<Artefact> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new AdapterError('INVALID_INPUT', `no such file or directory: ${path}`, { path });
  if (!info.isDirectory()) {
    // The weights file of a PEFT or model directory stands for its directory.
    const dir = dirname(path);
    const siblings = await filesOf(dir);
    if (basename(path) === PEFT_WEIGHTS_FILE && siblings.includes(PEFT_CONFIG_FILE))
      return { kind: 'peft', path: dir };
    if (basename(path) === MODEL_WEIGHTS_FILE && siblings.includes(MODEL_CONFIG_FILE))
      return { kind: 'model', path: dir };
    return { kind: 'adapter-file', path };
  }
  const files = await filesOf(path);
  if (files.includes(PEFT_CONFIG_FILE)) return { kind: 'peft', path };
  if (files.includes(MODEL_CONFIG_FILE) && files.includes(MODEL_WEIGHTS_FILE)) return { kind: 'model', path };
  if (files.includes(RUN_RECORD_FILE) || files.includes('result.json')) {
    if ((await filesOf(join(path, 'peft'))).includes(PEFT_CONFIG_FILE))
      return { kind: 'peft', path: join(path, 'peft') };
    if (files.includes('adapter.safetensors'))
      return { kind: 'adapter-file', path: join(path, 'adapter.safetensors') };
    if ((await filesOf(join(path, 'model'))).includes(MODEL_WEIGHTS_FILE))
      return { kind: 'model', path: join(path, 'model') };
    throw new AdapterError(
      'CHECKPOINT_FORMAT',
      `${path} is a run directory without a saved adapter or model (the run did not finish; resume it with adapt --resume --out ${path})`,
      { path },
    );
  }
  throw new AdapterError('CHECKPOINT_FORMAT', `${path} is a directory but none of: ${ACCEPTED}`, { path });
}

/** A model ready to evaluate or sample from. */
export interface LoadedModel {
  /** What to run: the character LM, or its PEFT wrapper. */
  lm: LanguageModel;
  /** The character LM (changed in place by a PEFT adapter, so `generate` uses the adapter). */
  model: CharLM;
  vocab: CharVocab;
  /** The base model directory (the model directory itself for whole models). */
  baseDir: string;
  /** Enabled adapter names (empty for a plain or whole fine-tuned model). */
  adapters: string[];
  /** For messages: `base model`, `with adapted`, `fine-tuned model runs/x/model`. */
  description: string;
}

/** Checks that an adapter file's adapters were made for a host as wide as `model`. */
function checkAdapterFileWidth(bytes: Uint8Array, file: string, model: CharLM, baseDir: string): void {
  const { config } = parseAdapterFile(bytes, file);
  for (const [name, cfg] of Object.entries(config)) {
    if (name === 'globalCfg' || cfg === null || typeof cfg !== 'object') continue;
    const field = INPUT_SIZE_FIELDS.find((f) => typeof (cfg as Record<string, unknown>)[f] === 'number');
    const width = field ? ((cfg as Record<string, unknown>)[field] as number) : undefined;
    if (width !== undefined && width !== model.cfg.dModel) {
      throw new AdapterError(
        'CHECKPOINT_MISMATCH',
        `adapter '${name}' in ${file} was trained for d_model ${width}, this base (${baseDir}) has ${model.cfg.dModel}; pass the --base it was trained on`,
        { adapter: name, trained: width, base: model.cfg.dModel },
      );
    }
  }
}

/**
 * Loads the base model and, when `adapterPath` is given, what it points to (see the module comment).
 * `baseFlag` is `--base` as the user gave it (undefined when not given).
 */
export async function loadModelWith(
  adapterPath: string | undefined,
  baseFlag: string | undefined,
): Promise<LoadedModel> {
  if (adapterPath === undefined) {
    const { model, vocab, dir } = await loadBaseModel(baseFlag ?? DEFAULT_BASE_DIR);
    return { lm: model, model, vocab, baseDir: dir, adapters: [], description: 'base model' };
  }
  const artefact = await locateArtefact(adapterPath);
  if (artefact.kind === 'model') {
    const { model, vocab, dir } = await loadBaseModel(artefact.path);
    return {
      lm: model,
      model,
      vocab,
      baseDir: dir,
      adapters: model.getEnabledAdapters(),
      description: `model ${artefact.path}`,
    };
  }
  const record = await runRecordOf(artefact.path);
  const baseDir = baseFlag ?? record?.base.path ?? DEFAULT_BASE_DIR;
  if (baseFlag === undefined && record && !(await stat(baseDir).catch(() => null))) {
    throw new AdapterError(
      'INVALID_INPUT',
      `the base model this run was trained on, ${baseDir}, no longer exists; pass --base`,
      { path: baseDir },
    );
  }
  const { model, vocab } = await loadBaseModel(baseDir);
  if (record) checkSameShape(artefact.path, record.base, baseShape(model.cfg), baseDir);
  if (artefact.kind === 'peft') {
    const peft = await loadPretrained(model, artefact.path);
    const adapters = peft.getEnabledAdapters();
    return {
      lm: peft as unknown as LanguageModel,
      model,
      vocab,
      baseDir,
      adapters,
      description: `with PEFT adapter ${artefact.path}`,
    };
  }
  const bytes = await readFileBytes(artefact.path);
  checkAdapterFileWidth(bytes, artefact.path, model, baseDir);
  loadAdapters(model, bytes);
  const adapters = model.getEnabledAdapters();
  return { lm: model, model, vocab, baseDir, adapters, description: `with ${adapters.join(', ')}` };
}
