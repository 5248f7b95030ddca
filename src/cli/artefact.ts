/**
 * What the commands that use a trained model (`eval`, `generate`) accept: anything `adapterkit adapt`
 * writes — an adapter file, a PEFT directory, a whole-model directory, or the run directory holding one
 * of them — loaded onto the right base model. The base is `--base` when given, else the one the run
 * recorded in `run.json`, else the shipped model; an adapter trained for another base shape is refused
 * in one line.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { SetupBlock } from '../adapters/composition/setup.js';
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
import { UsageError } from './user-error.js';

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
  /** The active composition setup, when `--setup` gave one. */
  setup?: SetupBlock;
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

/** One `--adapter` value: a path, or `name=path` to load a file's one adapter under `name`. */
export interface AdapterSpec {
  path: string;
  name?: string;
}

/** Reads `name=path` (a name of letters, digits, `_` and `-`, starting with a letter or `_`) or a plain path. */
export function parseAdapterSpec(value: string): AdapterSpec {
  const m = /^([A-Za-z_][\w-]*)=(.+)$/.exec(value);
  return m ? { name: m[1]!, path: m[2]! } : { path: value };
}

const KIND_WORDS: Record<ArtefactKind, string> = {
  'adapter-file': 'an adapter file',
  peft: 'a PEFT directory',
  model: 'a whole-model directory',
};

/**
 * Loads the base model and, when adapter paths are given, what they point to (see the module comment).
 * `adapterPaths` are `--adapter` values as the user gave them: one artefact of any kind, or several
 * adapter files (or run directories holding one), each optionally as `name=path`.
 * `baseFlag` is `--base` as the user gave it (undefined when not given).
 */
export async function loadModelWith(
  adapterPaths: string | readonly string[] | undefined,
  baseFlag: string | undefined,
): Promise<LoadedModel> {
  const given =
    adapterPaths === undefined ? [] : typeof adapterPaths === 'string' ? [adapterPaths] : adapterPaths;
  const specs = given.map(parseAdapterSpec);
  if (specs.length === 0) {
    const { model, vocab, dir } = await loadBaseModel(baseFlag ?? DEFAULT_BASE_DIR);
    return { lm: model, model, vocab, baseDir: dir, adapters: [], description: 'base model' };
  }
  const artefacts: Artefact[] = [];
  for (const spec of specs) artefacts.push(await locateArtefact(spec.path));
  const single = specs.length === 1 && specs[0]!.name === undefined;
  artefacts.forEach((artefact, i) => {
    if (!single && artefact.kind !== 'adapter-file') {
      throw new UsageError(
        `--adapter ${specs[i]!.path} is ${KIND_WORDS[artefact.kind]}; only adapter files (or adapt run directories holding one) can be given several times or as name=path`,
      );
    }
  });
  const first = artefacts[0]!;
  if (first.kind === 'model') {
    const { model, vocab, dir } = await loadBaseModel(first.path);
    return {
      lm: model,
      model,
      vocab,
      baseDir: dir,
      adapters: model.getEnabledAdapters(),
      description: `model ${first.path}`,
    };
  }
  const records = await Promise.all(artefacts.map((a) => runRecordOf(a.path)));
  const record = records.find((r) => r !== null) ?? null;
  const baseDir = baseFlag ?? record?.base.path ?? DEFAULT_BASE_DIR;
  if (baseFlag === undefined && record && !(await stat(baseDir).catch(() => null))) {
    throw new AdapterError(
      'INVALID_INPUT',
      `the base model this run was trained on, ${baseDir}, no longer exists; pass --base`,
      { path: baseDir },
    );
  }
  const { model, vocab } = await loadBaseModel(baseDir);
  records.forEach((r, i) => {
    if (r) checkSameShape(artefacts[i]!.path, r.base, baseShape(model.cfg), baseDir);
  });
  if (first.kind === 'peft') {
    const peft = await loadPretrained(model, first.path);
    const adapters = peft.getEnabledAdapters();
    return {
      lm: peft as unknown as LanguageModel,
      model,
      vocab,
      baseDir,
      adapters,
      description: `with PEFT adapter ${first.path}`,
    };
  }
  const loadedFrom = new Map<string, string>();
  for (const [i, artefact] of artefacts.entries()) {
    const bytes = await readFileBytes(artefact.path);
    checkAdapterFileWidth(bytes, artefact.path, model, baseDir);
    loadAdapterFileAs(model, bytes, artefact.path, specs[i]!.name, loadedFrom);
  }
  const adapters = model.getEnabledAdapters();
  return { lm: model, model, vocab, baseDir, adapters, description: `with ${adapters.join(', ')}` };
}

/**
 * Loads an adapter file's adapters into `model` (its one adapter under `name` when given), refusing a
 * name an earlier `--adapter` already loaded. `loadedFrom` records which file each name came from.
 */
function loadAdapterFileAs(
  model: CharLM,
  bytes: Uint8Array,
  file: string,
  name: string | undefined,
  loadedFrom: Map<string, string>,
): void {
  const inFile = Object.keys(parseAdapterFile(bytes, file).config).filter((n) => n !== 'globalCfg');
  if (name !== undefined && inFile.length !== 1) {
    throw new UsageError(
      `--adapter ${name}=${file}: the file holds ${inFile.length} adapters (${inFile.join(', ')}), so it cannot be loaded under one name; give the path alone`,
    );
  }
  const rename = name === undefined ? undefined : { [inFile[0]!]: name };
  for (const n of inFile) {
    const as = rename?.[n] ?? n;
    const earlier = loadedFrom.get(as);
    if (earlier !== undefined) {
      throw new UsageError(
        `adapter '${as}' of ${file} is already loaded from ${earlier}; load it under another name: --adapter <name>=${file}`,
      );
    }
  }
  const { loaded } = loadAdapters(model, bytes, rename ? { rename } : {});
  for (const n of loaded) loadedFrom.set(n, file);
}
