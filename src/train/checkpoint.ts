/**
 * Trainer checkpoints: everything needed to resume a run exactly (trainable parameters and persistent
 * buffers by path, AdamW state, step, RNG state, losses, evaluations, early-stopping state), stored as one
 * safetensors file whose `__metadata__` holds a JSON index. In memory here (`encodeTrainerCheckpoint` /
 * `decodeTrainerCheckpoint`); files, written atomically, are in `checkpoint-files.ts` (Node).
 */
import { AdapterError, check, isPlainObject } from '../errors.js';
import {
  decodeElements,
  littleEndianBytes,
  parseSafetensors,
  writeSafetensors,
  type SafetensorsDtype,
  type SafetensorsEntry,
} from '../io/safetensors.js';
import type { PathFiles } from '../io/path-files.js';
import type { AdamWParamState, AdamWState } from './adamw.js';

/** A tensor's values held in plain memory (no TensorFlow.js). */
export interface CheckpointArray {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

/** One evaluation: the metric returned by the trainer's `evalFn` after update `step`. */
export interface EvalRecord {
  step: number;
  metric: number;
}

/** Early-stopping bookkeeping. */
export interface EarlyStoppingState {
  /** Best metric so far (`null` before the first evaluation). */
  best: number | null;
  /** Step of the best metric. */
  bestStep: number | null;
  /** Evaluations since the last improvement. */
  badEvals: number;
}

/** The full state of a training run at a step boundary. */
export interface TrainerCheckpoint {
  /** Optimizer updates completed. */
  step: number;
  /** Tokens counted so far (0 when the trainer has no `countTokens`). */
  tokens: number;
  /** Trainable parameters by module path. */
  params: Map<string, CheckpointArray>;
  /** Persistent buffers (e.g. batch-norm running statistics) by module path. */
  buffers: Map<string, CheckpointArray>;
  /** AdamW state by parameter path. */
  optimizer: AdamWState;
  /** State of the trainer's {@link SeededRng}, or `null` when the run is not seeded. */
  rngState: number | null;
  /** Loss of every update so far (index i = update i + 1). */
  losses: number[];
  /** Every evaluation so far. */
  evals: EvalRecord[];
  /** Early-stopping state. */
  earlyStopping: EarlyStoppingState;
}

const FORMAT = 'adapterkit.trainer-checkpoint';
const FORMAT_VERSION = 1;
const META_KEY = 'adapterkit.trainer';

interface IndexJson {
  format: string;
  version: number;
  step: number;
  tokens: number;
  rngState: number | null;
  evals: Array<{ step: number; metric: number | string }>;
  earlyStopping: { best: number | string | null; bestStep: number | null; badEvals: number };
  params: Record<string, string>;
  buffers: Record<string, string>;
  optimizer: Record<string, { step: number; expAvg: string; expAvgSq: string; maxExpAvgSq?: string }>;
  losses: string;
}

/** JSON has no NaN or ±∞: store them as strings. */
function encodeNumber(x: number): number | string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  return x;
}

function decodeNumber(x: unknown, where: string, source: string): number {
  if (typeof x === 'number') return x;
  if (x === 'nan') return NaN;
  if (x === 'inf') return Infinity;
  if (x === '-inf') return -Infinity;
  throw new AdapterError(
    'CHECKPOINT_FORMAT',
    `${source}: ${where} must be a number, got ${JSON.stringify(x)}`,
  );
}

function entryOf(a: CheckpointArray, name: string): SafetensorsEntry {
  const n = a.shape.reduce((x, y) => x * y, 1);
  check(
    a.data.length === n,
    'INVALID_INPUT',
    () => `trainer checkpoint: '${name}' has ${a.data.length} values for shape [${a.shape.join(', ')}]`,
  );
  if (a.dtype === 'int32')
    return { dtype: 'I32', shape: [...a.shape], data: littleEndianBytes(Int32Array.from(a.data)) };
  return { dtype: 'F32', shape: [...a.shape], data: littleEndianBytes(Float32Array.from(a.data)) };
}

/**
 * Serialises a checkpoint to the bytes of a safetensors file. Tensor names: `params/<path>`,
 * `buffers/<path>`, `optimizer/<path>/{exp_avg,exp_avg_sq,max_exp_avg_sq}`, `losses` (F64); the metadata
 * key `adapterkit.trainer` holds the JSON index.
 *
 * @example
 * ```ts
 * const bytes = encodeTrainerCheckpoint(trainer.checkpoint());
 * ```
 */
export function encodeTrainerCheckpoint(ckpt: TrainerCheckpoint): Uint8Array {
  const tensors = new Map<string, SafetensorsEntry>();
  const index: IndexJson = {
    format: FORMAT,
    version: FORMAT_VERSION,
    step: ckpt.step,
    tokens: ckpt.tokens,
    rngState: ckpt.rngState,
    evals: ckpt.evals.map((e) => ({ step: e.step, metric: encodeNumber(e.metric) })),
    earlyStopping: {
      best: ckpt.earlyStopping.best === null ? null : encodeNumber(ckpt.earlyStopping.best),
      bestStep: ckpt.earlyStopping.bestStep,
      badEvals: ckpt.earlyStopping.badEvals,
    },
    params: {},
    buffers: {},
    optimizer: {},
    losses: 'losses',
  };
  for (const [path, a] of ckpt.params) {
    const name = `params/${path}`;
    tensors.set(name, entryOf(a, name));
    index.params[path] = name;
  }
  for (const [path, a] of ckpt.buffers) {
    const name = `buffers/${path}`;
    tensors.set(name, entryOf(a, name));
    index.buffers[path] = name;
  }
  for (const [path, s] of Object.entries(ckpt.optimizer.params)) {
    const base = `optimizer/${path}`;
    const put = (suffix: string, data: Float32Array) => {
      const name = `${base}/${suffix}`;
      tensors.set(name, entryOf({ dtype: 'float32', shape: s.shape, data }, name));
      return name;
    };
    const entry: IndexJson['optimizer'][string] = {
      step: s.step,
      expAvg: put('exp_avg', s.expAvg),
      expAvgSq: put('exp_avg_sq', s.expAvgSq),
    };
    if (s.maxExpAvgSq) entry.maxExpAvgSq = put('max_exp_avg_sq', s.maxExpAvgSq);
    index.optimizer[path] = entry;
  }
  tensors.set('losses', {
    dtype: 'F64',
    shape: [ckpt.losses.length],
    data: littleEndianBytes(Float64Array.from(ckpt.losses)),
  });
  return writeSafetensors(tensors, { [META_KEY]: JSON.stringify(index) }, 'trainer checkpoint');
}

function arrayOf(
  entry: SafetensorsEntry | undefined,
  name: string,
  source: string,
  allowed: SafetensorsDtype[],
): CheckpointArray {
  if (!entry)
    throw new AdapterError('CHECKPOINT_FORMAT', `${source}: tensor '${name}' listed in the index is missing`);
  check(
    allowed.includes(entry.dtype),
    'CHECKPOINT_FORMAT',
    () => `${source}: tensor '${name}' has dtype ${entry.dtype}; expected ${allowed.join(' or ')}`,
  );
  const values = decodeElements(entry);
  if (values instanceof Int32Array) return { dtype: 'int32', shape: [...entry.shape], data: values };
  return { dtype: 'float32', shape: [...entry.shape], data: values as Float32Array };
}

function isCount(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 0;
}

/**
 * Parses bytes written by {@link encodeTrainerCheckpoint}. Anything malformed is `CHECKPOINT_FORMAT`
 * naming `source`.
 *
 * @example
 * ```ts
 * const ckpt = decodeTrainerCheckpoint(await readFile(file), file);
 * ```
 */
export function decodeTrainerCheckpoint(bytes: Uint8Array, source = 'trainer checkpoint'): TrainerCheckpoint {
  const file = parseSafetensors(bytes, source);
  const raw = file.metadata?.[META_KEY];
  check(
    typeof raw === 'string',
    'CHECKPOINT_FORMAT',
    () => `${source}: not a trainer checkpoint (no '${META_KEY}' metadata entry)`,
  );
  let index: IndexJson;
  try {
    index = JSON.parse(raw) as IndexJson;
  } catch (e) {
    throw new AdapterError(
      'CHECKPOINT_FORMAT',
      `${source}: '${META_KEY}' metadata is not valid JSON (${(e as Error).message})`,
    );
  }
  check(
    isPlainObject(index) && index.format === FORMAT,
    'CHECKPOINT_FORMAT',
    () => `${source}: '${META_KEY}' metadata is not a ${FORMAT} index`,
  );
  check(
    index.version === FORMAT_VERSION,
    'CHECKPOINT_FORMAT',
    () =>
      `${source}: unsupported trainer checkpoint version ${JSON.stringify(index.version)}; this library reads version ${FORMAT_VERSION}`,
  );
  check(
    isCount(index.step) &&
      typeof index.tokens === 'number' &&
      isPlainObject(index.params) &&
      isPlainObject(index.buffers) &&
      isPlainObject(index.optimizer) &&
      Array.isArray(index.evals) &&
      isPlainObject(index.earlyStopping),
    'CHECKPOINT_FORMAT',
    () =>
      `${source}: the trainer index lacks step, tokens, params, buffers, optimizer, evals or earlyStopping`,
  );
  check(
    index.rngState === null ||
      (Number.isInteger(index.rngState) && index.rngState >= 0 && index.rngState <= 0xffffffff),
    'CHECKPOINT_FORMAT',
    () =>
      `${source}: rngState must be null or an unsigned 32-bit integer, got ${JSON.stringify(index.rngState)}`,
  );
  const t = file.tensors;
  const params = new Map<string, CheckpointArray>();
  for (const [path, name] of Object.entries(index.params))
    params.set(path, arrayOf(t.get(name), name, source, ['F32']));
  const buffers = new Map<string, CheckpointArray>();
  for (const [path, name] of Object.entries(index.buffers))
    buffers.set(path, arrayOf(t.get(name), name, source, ['F32', 'I32']));
  const optimizer: AdamWState = { params: {} };
  for (const [path, e] of Object.entries(index.optimizer)) {
    check(
      isPlainObject(e) && isCount(e.step) && typeof e.expAvg === 'string' && typeof e.expAvgSq === 'string',
      'CHECKPOINT_FORMAT',
      () => `${source}: optimizer entry for '${path}' must be {step, expAvg, expAvgSq}`,
    );
    const m = arrayOf(t.get(e.expAvg), e.expAvg, source, ['F32']);
    const state: AdamWParamState = {
      step: e.step,
      shape: m.shape,
      expAvg: m.data as Float32Array,
      expAvgSq: arrayOf(t.get(e.expAvgSq), e.expAvgSq, source, ['F32']).data as Float32Array,
    };
    if (typeof e.maxExpAvgSq === 'string') {
      state.maxExpAvgSq = arrayOf(t.get(e.maxExpAvgSq), e.maxExpAvgSq, source, ['F32']).data as Float32Array;
    }
    optimizer.params[path] = state;
  }
  const lossEntry = t.get(index.losses);
  check(
    lossEntry !== undefined && lossEntry.dtype === 'F64' && lossEntry.shape.length === 1,
    'CHECKPOINT_FORMAT',
    () => `${source}: '${index.losses}' must be a 1-d F64 tensor`,
  );
  const losses = [...(decodeElements(lossEntry) as Float64Array)];
  const evals = index.evals.map((e, i) => {
    check(
      isPlainObject(e) && isCount(e.step),
      'CHECKPOINT_FORMAT',
      () => `${source}: evals[${i}] must be {step, metric}`,
    );
    return { step: e.step, metric: decodeNumber(e.metric, `evals[${i}].metric`, source) };
  });
  const es = index.earlyStopping;
  return {
    step: index.step,
    tokens: index.tokens,
    params,
    buffers,
    optimizer,
    rngState: index.rngState,
    losses,
    evals,
    earlyStopping: {
      best: es.best === null ? null : decodeNumber(es.best, 'earlyStopping.best', source),
      bestStep: es.bestStep ?? null,
      badEvals: isCount(es.badEvals) ? es.badEvals : 0,
    },
  };
}

/** The file name the trainer gives the checkpoint of `step` (zero-padded so names sort by step). */
export function checkpointFileName(step: number): string {
  return `checkpoint-${String(step).padStart(8, '0')}.safetensors`;
}

const NAME_PATTERN = /^checkpoint-(\d+)\.safetensors$/;

/**
 * Trainer checkpoints in `dir` as `{step, file}`, ascending by step, read through `files` (an empty list
 * when `dir` does not exist). By path in Node: `listTrainerCheckpoints` of `adapterkit/node`.
 */
export async function trainerCheckpointsIn(
  files: PathFiles,
  dir: string,
): Promise<Array<{ step: number; file: string }>> {
  const names = (await files.readdir(dir)) ?? [];
  return names
    .map((n) => ({ m: NAME_PATTERN.exec(n), n }))
    .filter((x): x is { m: RegExpExecArray; n: string } => x.m !== null)
    .map(({ m, n }) => ({ step: Number(m[1]), file: files.join(dir, n) }))
    .sort((a, b) => a.step - b.step);
}
