/**
 * The PEFT checkpoint directory (SPEC §4.3; what Hugging Face PEFT's `save_pretrained` /
 * `from_pretrained` read and write): `adapter_config.json` + `adapter_model.safetensors` for the
 * adapter named `default`, the same pair under `<name>/` for every other adapter.
 *
 * Node: `target` / `source` is a directory path (replaced as a whole, see `atomic-dir.ts`); paths need
 * the file access that `adapterkit/node` installs. Browsers (or any storage): pass a {@link FileSink} /
 * {@link FileSource} object; paths inside it are relative and use `/`.
 *
 * Plain functions over any PeftModel: {@link savePretrained}, {@link loadAdapter}, {@link peftFiles}.
 * The PeftModel the package exports (`peft-model.ts`) adds them as methods, and `loadPretrained` there
 * builds its instances through {@link loadPretrainedAs}.
 */
import { tf, type Tensor } from '../backend/tf.js';
import { libraryFrozen } from '../adapters/host.js';
import { TunerPeftModel, peftModelOf } from './tuner-peft-model.js';
import { loadPeftTensors, peftTensorsFor, type LoadPeftTensorsResult } from './peft-keys.js';
import { AdapterError, check, describeValue } from '../errors.js';
import { BatchNorm } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import {
  PEFT_CONFIG_FILE,
  parsePeftConfig,
  serializePeftConfig,
  withPeftKeyNames,
  type ParsedPeftConfig,
  type PeftConfigExtras,
} from './peft-config.js';
import { requirePathFiles, type PathFiles } from './path-files.js';
import {
  loadAdapterOptionsSchema,
  loadPretrainedOptionsSchema,
  parsePeftOptions,
  savePretrainedOptionsSchema,
  type LoadAdapterOptions,
  type LoadPretrainedOptions,
  type SavePretrainedOptions,
} from './peft-options.js';
import { safetensorsFromTensors, tensorsFromSafetensors } from './safetensors-tf.js';

export { PEFT_CONFIG_FILE } from './peft-config.js';
export type { LoadAdapterOptions, LoadPretrainedOptions, SavePretrainedOptions } from './peft-options.js';
/** Tensor file name inside a PEFT directory. */
export const PEFT_WEIGHTS_FILE = 'adapter_model.safetensors';
/** PEFT's legacy pickle tensor file, which the library refuses to read. */
export const PEFT_PICKLE_FILE = 'adapter_model.bin';
/** The adapter written at the directory's root; every other adapter goes to `<name>/`. */
export const PEFT_DEFAULT_ADAPTER = 'default';

/** Where {@link savePretrained} writes: any object that stores a file under a relative `/` path. */
export interface FileSink {
  /** Stores `data` (bytes, or a UTF-8 string) under `path` (e.g. `task2/adapter_config.json`). */
  writeFile(path: string, data: Uint8Array | string): void | Promise<void>;
}

/** Where {@link loadPretrained} reads: any object that returns a stored file, or null when absent. */
export interface FileSource {
  /** The bytes stored under `path` (e.g. `adapter_config.json`), or null when there is no such file. */
  readFile(path: string): Uint8Array | null | Promise<Uint8Array | null>;
  /** Optional: whether `path` exists, without reading it (used to detect `adapter_model.bin`). */
  exists?(path: string): boolean | Promise<boolean>;
}

// ---- file access ----

function joinRel(subfolder: string | undefined, file: string): string {
  const sub = (subfolder ?? '').replace(/\\/g, '/').replace(/^\/+|\/+$/g, '');
  return sub ? `${sub}/${file}` : file;
}

/** A directory target must be a directory path (or not exist yet). */
async function checkDirTarget(files: PathFiles, dir: string): Promise<void> {
  const kind = await files.kind(dir);
  check(
    kind === null || kind === 'directory',
    'INVALID_INPUT',
    () =>
      `savePretrained: ${dir} is a file; give a directory path (PEFT writes ${PEFT_CONFIG_FILE} and ${PEFT_WEIGHTS_FILE} into it)`,
    () => ({ path: dir }),
  );
}

/** Files under `root`, which is the directory `dir` names or the complete copy read in its place. */
async function directorySource(files: PathFiles, root: string, dir: string): Promise<FileSource> {
  check(
    (await files.kind(root)) === 'directory',
    'CHECKPOINT_FORMAT',
    () =>
      `loadPretrained: ${dir} is not a directory; give the PEFT adapter directory (holding ${PEFT_CONFIG_FILE} and ${PEFT_WEIGHTS_FILE})`,
    () => ({ path: dir }),
  );
  return {
    readFile: (rel) => files.readFile(files.join(root, ...rel.split('/'))),
    exists: async (rel) => (await files.kind(files.join(root, ...rel.split('/')))) === 'file',
  };
}

interface ReadAdapter {
  parsed: ParsedPeftConfig;
  tensors: Map<string, Tensor>;
  configLabel: string;
  weightsLabel: string;
}

/** The two files of one adapter, as stored. */
interface AdapterFiles {
  weights: Uint8Array;
  config: Uint8Array;
}

/** Reads one adapter's two files from `src`; missing files (or a pickle only) → `CHECKPOINT_FORMAT`. */
async function readAdapterFiles(
  src: FileSource,
  subfolder: string | undefined,
  label: (file: string) => string,
): Promise<AdapterFiles> {
  const weights = await src.readFile(joinRel(subfolder, PEFT_WEIGHTS_FILE));
  if (!weights) {
    const pickleRel = joinRel(subfolder, PEFT_PICKLE_FILE);
    const pickle = src.exists ? await src.exists(pickleRel) : (await src.readFile(pickleRel)) !== null;
    if (pickle) {
      throw new AdapterError(
        'CHECKPOINT_FORMAT',
        `${label(PEFT_PICKLE_FILE)}: the adapter is stored only as ${PEFT_PICKLE_FILE}, a PyTorch pickle; pickle files are not read (loading one can run arbitrary code). Convert the adapter to safetensors (in Python: PeftModel.from_pretrained(base, dir).save_pretrained(out, safe_serialization=True)) and load the ${PEFT_WEIGHTS_FILE} it writes`,
        { source: label(PEFT_PICKLE_FILE) },
      );
    }
    throw new AdapterError(
      'CHECKPOINT_FORMAT',
      `${label(PEFT_WEIGHTS_FILE)}: no such file; a PEFT adapter directory holds ${PEFT_CONFIG_FILE} and ${PEFT_WEIGHTS_FILE}`,
      {
        source: label(PEFT_WEIGHTS_FILE),
      },
    );
  }
  const config = await src.readFile(joinRel(subfolder, PEFT_CONFIG_FILE));
  if (!config) {
    throw new AdapterError(
      'CHECKPOINT_FORMAT',
      `${label(PEFT_CONFIG_FILE)}: no such file; a PEFT adapter directory holds ${PEFT_CONFIG_FILE} and ${PEFT_WEIGHTS_FILE}`,
      {
        source: label(PEFT_CONFIG_FILE),
      },
    );
  }
  return { weights, config };
}

/**
 * Reads and validates one adapter's config and tensors (nothing is added to a model yet). A directory
 * path is read as one consistent set (see `atomic-dir.ts`). The tensors are created last, so a failure
 * leaks nothing; the caller disposes them.
 */
async function readAdapter(
  source: string | FileSource,
  subfolder: string | undefined,
  model: Module,
  where: string,
): Promise<ReadAdapter> {
  if (typeof source !== 'string') {
    check(
      source !== null && typeof source === 'object' && typeof (source as FileSource).readFile === 'function',
      'INVALID_INPUT',
      () =>
        `${where}: source must be a directory path or an object with readFile(path), got ${describeValue(source)}`,
    );
  }
  const label = (file: string) => {
    const rel = joinRel(subfolder, file);
    return typeof source === 'string' ? `${source.replace(/[\\/]+$/, '')}/${rel}` : rel;
  };
  let files: AdapterFiles;
  if (typeof source === 'string') {
    const fsys = requirePathFiles(where);
    files = await fsys.readDirectory(source, async (root) =>
      readAdapterFiles(await directorySource(fsys, root, source), subfolder, label),
    );
  } else {
    files = await readAdapterFiles(source, subfolder, label);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(files.config));
  } catch (e) {
    throw new AdapterError(
      'CHECKPOINT_FORMAT',
      `${label(PEFT_CONFIG_FILE)}: not valid UTF-8 JSON (${(e as Error).message})`,
      {
        source: label(PEFT_CONFIG_FILE),
      },
    );
  }
  const parsed = parsePeftConfig(json, label(PEFT_CONFIG_FILE), model);
  const tensors = tensorsFromSafetensors(files.weights, label(PEFT_WEIGHTS_FILE));
  return { parsed, tensors, configLabel: label(PEFT_CONFIG_FILE), weightsLabel: label(PEFT_WEIGHTS_FILE) };
}

// ---- what a loaded file said beyond the library config ----

const loadedExtras = new WeakMap<
  TunerPeftModel,
  Map<string, { extras: PeftConfigExtras; snapshot: string }>
>();

function rememberExtras(peft: TunerPeftModel, name: string, extras: PeftConfigExtras): void {
  let m = loadedExtras.get(peft);
  if (!m) loadedExtras.set(peft, (m = new Map()));
  m.set(name, { extras, snapshot: JSON.stringify(peft.peftConfigFor(name)) });
}

/** The extras read for `name`, when its config is still the one that was loaded. */
function extrasFor(peft: TunerPeftModel, name: string, snapshot: string): PeftConfigExtras | null {
  const e = loadedExtras.get(peft)?.get(name);
  return e && e.snapshot === snapshot ? e.extras : null;
}

/** Sets the trainable flag of every tensor adapter `name` saves (LoRA/IA³ tensors, copies, unfrozen biases). */
function setAdapterTensorsTrainable(peft: TunerPeftModel, name: string, trainable: boolean): void {
  peft.setAdapterTrainable(name, trainable);
  for (const t of peftTensorsFor(peft, name).values()) if (t instanceof tf.Variable) t.trainable = trainable;
}

function finishLoad(peft: TunerPeftModel, name: string, read: ReadAdapter, isTrainable: boolean): void {
  setAdapterTensorsTrainable(peft, name, isTrainable);
  if (!isTrainable) peft.eval();
  rememberExtras(peft, name, read.parsed.extras);
}

function loadTensors(
  peft: TunerPeftModel,
  name: string,
  read: ReadAdapter,
  strict: boolean,
): LoadPeftTensorsResult {
  try {
    return loadPeftTensors(peft, name, read.tensors, { strict });
  } catch (e) {
    if (e instanceof AdapterError)
      throw new AdapterError(e.code, `${read.weightsLabel}: ${e.message}`, {
        ...e.details,
        source: read.weightsLabel,
      });
    throw e;
  }
}

// ---- public API ----

/** A PeftModel class; {@link loadPretrainedAs} builds its result with the class's `wrap`. */
export interface PeftModelClass<T extends TunerPeftModel> {
  wrap(...args: Parameters<typeof TunerPeftModel.wrap>): T;
}

/**
 * `loadPretrained` (see `peft-model.ts`, which documents it) building the result with
 * `peftClass.wrap`, so the PeftModel the package exports returns its own instances.
 */
export async function loadPretrainedAs<T extends TunerPeftModel>(
  peftClass: PeftModelClass<T>,
  model: Module,
  source: string | FileSource,
  opts?: LoadPretrainedOptions,
): Promise<T> {
  const where = 'loadPretrained';
  check(
    model instanceof Module,
    'INVALID_INPUT',
    () => `${where}: expected a Module, got ${describeValue(model)}`,
  );
  check(
    !(model instanceof TunerPeftModel) && !peftModelOf(model),
    'UNSUPPORTED_FEATURE',
    () =>
      `${where}: the model is already managed by a PeftModel; add another adapter with loadAdapter(peft, source, name) (peft.loadAdapter)`,
  );
  const o = parsePeftOptions(loadPretrainedOptionsSchema, opts, where);
  const name = o.adapterName ?? PEFT_DEFAULT_ADAPTER;
  const read = await readAdapter(source, o.subfolder, model, where);
  try {
    // Snapshot what wrapping changes, to undo it if the tensors do not fit.
    const trainable = new Map(model.parameters().map((p) => [p, p.trainable] as const));
    const batchNorms = model
      .namedModules()
      .map(([, m]) => m)
      .filter((m) => m instanceof BatchNorm && !libraryFrozen.has(m));
    const undo = (peft: T | null) => {
      peft?.unload();
      for (const [p, t] of trainable) p.trainable = t;
      for (const m of batchNorms) libraryFrozen.delete(m);
    };
    let peft: T;
    try {
      peft = peftClass.wrap(model, read.parsed.config, {
        adapterName: name,
        allowPartialMatch: o.allowPartialMatch,
      });
    } catch (e) {
      if (!peftModelOf(model)) undo(null);
      throw withPeftKeyNames(e, read.configLabel);
    }
    try {
      loadTensors(peft, name, read, o.strict);
    } catch (e) {
      undo(peft);
      throw e;
    }
    finishLoad(peft, name, read, o.isTrainable);
    return peft;
  } finally {
    for (const t of read.tensors.values()) t.dispose();
  }
}

/**
 * Adds the adapter stored in a PEFT directory to an existing PeftModel under `adapterName` (what PEFT
 * calls `load_adapter`). Same reading rules and options as {@link loadPretrained}; any failure leaves
 * `peft` as it was. The name already held → `DUPLICATE_ADAPTER`; mixing LoRA and IA³ →
 * `UNSUPPORTED_FEATURE`.
 *
 * PEFT note: the new adapter is enabled (as `addAdapter` does here); PEFT leaves it inactive until
 * `set_adapter`. Use `peft.setActiveAdapters([...])` to choose.
 *
 * @returns The missing and unexpected tensor keys (non-empty only with `strict: false`).
 */
export async function loadAdapter(
  peft: TunerPeftModel,
  source: string | FileSource,
  adapterName: string,
  opts?: LoadAdapterOptions,
): Promise<LoadPeftTensorsResult> {
  const where = `loadAdapter('${adapterName}')`;
  check(
    peft instanceof TunerPeftModel,
    'INVALID_INPUT',
    () => `${where}: expected a PeftModel, got ${describeValue(peft)}`,
  );
  check(
    typeof adapterName === 'string',
    'INVALID_ADAPTER_NAME',
    () => `loadAdapter: the adapter name must be a string, got ${describeValue(adapterName)}`,
  );
  check(
    !peft.adapterNames().includes(adapterName),
    'DUPLICATE_ADAPTER',
    () => `${where}: adapter '${adapterName}' already exists; held: ${peft.adapterNames().join(', ')}`,
    () => ({ name: adapterName }),
  );
  const o = parsePeftOptions(loadAdapterOptionsSchema, opts, where);
  const read = await readAdapter(source, o.subfolder, peft.model, where);
  try {
    try {
      peft.addAdapter(adapterName, read.parsed.config, { allowPartialMatch: o.allowPartialMatch });
    } catch (e) {
      throw withPeftKeyNames(e, read.configLabel);
    }
    let result: LoadPeftTensorsResult;
    try {
      result = loadTensors(peft, adapterName, read, o.strict);
    } catch (e) {
      peft.deleteAdapter(adapterName);
      throw e;
    }
    finishLoad(peft, adapterName, read, o.isTrainable);
    return result;
  } finally {
    for (const t of read.tensors.values()) t.dispose();
  }
}

/**
 * Every file {@link savePretrained} would write, by relative path (`adapter_config.json`,
 * `adapter_model.safetensors`, `<name>/…`), without writing anything. Same options and errors.
 */
export function peftFiles(
  peft: TunerPeftModel,
  opts?: SavePretrainedOptions,
): Map<string, Uint8Array | string> {
  const where = 'savePretrained';
  check(
    peft instanceof TunerPeftModel,
    'INVALID_INPUT',
    () => `${where}: expected a PeftModel, got ${describeValue(peft)}`,
  );
  const o = parsePeftOptions(savePretrainedOptionsSchema, opts, where);
  const all = peft.adapterNames();
  check(all.length > 0, 'NO_ADAPTERS', () => `${where}: the model holds no adapters; add one first`);
  const selected = [...new Set(o.selectedAdapters ?? all)];
  const unknown = selected.filter((n) => !all.includes(n));
  check(
    unknown.length === 0,
    'UNKNOWN_ADAPTER',
    () =>
      `${where}: unknown adapter${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}; existing adapters: ${all.join(', ')}`,
    () => ({ names: unknown, valid: all }),
  );
  const files = new Map<string, Uint8Array | string>();
  for (const name of selected) {
    const dir = name === PEFT_DEFAULT_ADAPTER ? '' : `${name}/`;
    const cfg = peft.peftConfigFor(name);
    const extras = extrasFor(peft, name, JSON.stringify(cfg));
    const taskType = o.taskType !== undefined ? o.taskType : (extras?.taskType ?? null);
    const config = serializePeftConfig(cfg, {
      taskType,
      baseModelNameOrPath:
        o.baseModelNameOrPath !== undefined ? o.baseModelNameOrPath : (extras?.baseModelNameOrPath ?? null),
      revision: extras?.revision ?? null,
      autoMapping: o.autoMapping ?? null,
      peftVersion: o.peftVersion,
      inert: extras?.inert ?? {},
    });
    const weights = safetensorsFromTensors(peftTensorsFor(peft, name), {
      dtype: o.dtype,
      metadata: { format: 'pt' },
      source: `${dir}${PEFT_WEIGHTS_FILE}`,
    });
    files.set(`${dir}${PEFT_CONFIG_FILE}`, config);
    files.set(`${dir}${PEFT_WEIGHTS_FILE}`, weights);
  }
  return files;
}

/**
 * Writes adapters as a PEFT directory (what PEFT calls `save_pretrained`): for `default`,
 * `adapter_config.json` and `adapter_model.safetensors` at the root; for every other adapter the same
 * pair under `<name>/`. The adapter name never appears in a tensor key (`base_model.model.<path>.lora_A.weight`,
 * …, SPEC §4.3); the tensor file carries `{"format": "pt"}` metadata. The config holds exactly PEFT's
 * keys for the method (LoRA: every key of PEFT's `LoraConfig`, features the library lacks at PEFT's
 * defaults; IA³: PEFT's `IA3Config` keys), sorted, two-space indented, list-valued module fields sorted.
 * Everything is serialised before the first file is written. In Node the directory is replaced as a whole
 * (see `atomic-dir.ts`): a crash at any moment leaves the old complete set or the new one, never a mix;
 * other files already in the directory are kept.
 *
 * Errors: `NO_ADAPTERS`, `UNKNOWN_ADAPTER` (listing the adapters), `INVALID_CONFIG` (bad option,
 * naming it and the valid choices), `INVALID_INPUT` (target is a file).
 *
 * @example
 * ```ts
 * await savePretrained(peft, './out', { baseModelNameOrPath: 'my-org/tiny-llama', taskType: 'CAUSAL_LM' });
 * // browser: collect the files in memory
 * const files = new Map();
 * await savePretrained(peft, { writeFile: (p, d) => void files.set(p, d) });
 * ```
 */
export async function savePretrained(
  peft: TunerPeftModel,
  target: string | FileSink,
  opts?: SavePretrainedOptions,
): Promise<void> {
  const files = peftFiles(peft, opts);
  if (typeof target === 'string') {
    const fsys = requirePathFiles('savePretrained');
    await checkDirTarget(fsys, target);
    await fsys.writeDirectory(target, files, 'savePretrained');
    return;
  }
  check(
    target !== null && typeof target === 'object' && typeof (target as FileSink).writeFile === 'function',
    'INVALID_INPUT',
    () =>
      `savePretrained: target must be a directory path or an object with writeFile(path, data), got ${describeValue(target)}`,
  );
  for (const [path, data] of files) await target.writeFile(path, data);
}
