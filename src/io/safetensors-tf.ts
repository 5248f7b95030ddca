/**
 * TensorFlow.js conveniences over the byte-level safetensors reader and writer (`./safetensors.ts`), which stay
 * free of tf so the container code runs anywhere. Conversions follow SPEC §2.1 "Dtypes": floats are read as
 * float32 (exact for F16/BF16, F64 rounded to nearest), integers as int32 (values outside int32 are rejected,
 * never wrapped), BOOL as bool; float32 is written as F32 by default, F16/BF16 on request (round to nearest even).
 */
import { tf } from '../backend/tf.js';
import { AdapterError, check, describeValue, notOneOf } from '../errors.js';
import {
  decodeElements,
  decodeToFloat32,
  encodeFloat32,
  littleEndianBytes,
  parseSafetensors,
  writeSafetensors,
  type SafetensorsEntry,
  type SafetensorsFloatDtype,
} from './safetensors.js';

/** Float formats {@link safetensorsFromTensors} can write float32 tensors in. */
export type SafetensorsWriteDtype = 'float32' | 'float16' | 'bfloat16';

/** Options of {@link safetensorsFromTensors}. */
export interface SafetensorsFromTensorsOptions {
  /** Storage format of float32 tensors: `float32` (default, `F32`), `float16` (`F16`) or `bfloat16` (`BF16`). */
  dtype?: SafetensorsWriteDtype;
  /** String → string map written as `__metadata__`; omitted or `null` writes none. */
  metadata?: Readonly<Record<string, string>> | null;
  /** Label used in error messages, e.g. the destination path. */
  source?: string;
}

const WRITE_DTYPES: Readonly<Record<SafetensorsWriteDtype, SafetensorsFloatDtype>> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
};
const DEFAULT_SOURCE = 'safetensors data';
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

type TensorValues = { values: Float32Array | Int32Array | Uint8Array; dtype: 'float32' | 'int32' | 'bool' };

/**
 * Parses a safetensors file into tensors (in the file's data order). The whole file is validated and every
 * tensor decoded before the first `tf.Tensor` is created, so a failure leaks nothing.
 *
 * @param bytes - The whole file.
 * @param source - Label used in error messages, e.g. the file path.
 * @returns Name → tensor; the caller owns (and disposes) the tensors.
 * @throws AdapterError `CHECKPOINT_FORMAT` on any container violation or an integer outside int32.
 * @example
 * ```ts
 * const weights = tensorsFromSafetensors(await readFile('adapter_model.safetensors'));
 * weights.get('base_model.model.q_proj.lora_A.weight')!.print();
 * ```
 */
export function tensorsFromSafetensors(
  bytes: Uint8Array,
  source: string = DEFAULT_SOURCE,
): Map<string, tf.Tensor> {
  const decoded = [...parseSafetensors(bytes, source).tensors].map(
    ([name, entry]) => [name, entry.shape, tensorValues(name, entry, source)] as const,
  );
  return new Map(decoded.map(([name, shape, { values, dtype }]) => [name, tf.tensor(values, shape, dtype)]));
}

/**
 * Converts one parsed entry to a tensor: float dtypes to float32, integers to int32, BOOL to bool.
 *
 * @param name - The tensor's name, for error messages.
 * @param entry - An entry from `parseSafetensors`.
 * @param source - Label used in error messages.
 * @returns A new tensor the caller owns.
 * @throws AdapterError `CHECKPOINT_FORMAT` when an integer does not fit in int32.
 */
export function tensorFromEntry(
  name: string,
  entry: SafetensorsEntry,
  source: string = DEFAULT_SOURCE,
): tf.Tensor {
  const { values, dtype } = tensorValues(name, entry, source);
  return tf.tensor(values, entry.shape, dtype);
}

function tensorValues(name: string, entry: SafetensorsEntry, source: string): TensorValues {
  switch (entry.dtype) {
    case 'F64':
    case 'F32':
    case 'BF16':
    case 'F16':
      return { values: decodeToFloat32(entry), dtype: 'float32' };
    case 'BOOL':
      return { values: decodeElements(entry) as Uint8Array, dtype: 'bool' };
    default:
      return { values: toInt32(name, entry, source), dtype: 'int32' };
  }
}

function toInt32(name: string, entry: SafetensorsEntry, source: string): Int32Array {
  const elements = decodeElements(entry);
  if (elements instanceof Int32Array) return elements;
  const out = new Int32Array(elements.length);
  for (let i = 0; i < elements.length; i++) {
    const v = Number(elements[i]!); // exact whenever the value fits in int32
    check(
      v >= INT32_MIN && v <= INT32_MAX,
      'CHECKPOINT_FORMAT',
      () => {
        return `${source}: tensor ${JSON.stringify(name)}: ${entry.dtype} value ${elements[i]} at index ${i} does not fit in int32`;
      },
      () => ({ source, tensor: name }),
    );
    out[i] = v;
  }
  return out;
}

/**
 * Writes tensors as a safetensors file, laid out deterministically as the reference writer does (see
 * `writeSafetensors`). float32 tensors are stored as `options.dtype`; int32 as `I32`; bool as `BOOL`.
 *
 * @param tensors - Name → tensor (a `Map` or any iterable of pairs). The tensors are read, not disposed.
 * @param options - Storage dtype for float32 tensors, metadata, and an error-message label.
 * @returns The file's bytes.
 * @throws AdapterError `INVALID_CONFIG` for an unknown `options.dtype`; `CHECKPOINT_FORMAT` for a disposed
 * tensor, a tensor dtype other than float32/int32/bool, a duplicated or reserved name, or non-string metadata.
 * @example
 * ```ts
 * const bytes = safetensorsFromTensors(new Map([['w', tf.ones([2, 2])]]), { dtype: 'bfloat16', metadata: { format: 'pt' } });
 * ```
 */
export function safetensorsFromTensors(
  tensors: Iterable<readonly [string, tf.Tensor]>,
  options: SafetensorsFromTensorsOptions = {},
): Uint8Array {
  const { dtype = 'float32', metadata = null, source = DEFAULT_SOURCE } = options;
  check(Object.hasOwn(WRITE_DTYPES, dtype), 'INVALID_CONFIG', () => {
    return `${source}: ${notOneOf('safetensors dtype option', dtype, Object.keys(WRITE_DTYPES))}`;
  });
  const entries = [...tensors].map(
    ([name, t]) => [name, entryFromTensor(name, t, WRITE_DTYPES[dtype], source)] as const,
  );
  return writeSafetensors(entries, metadata, source);
}

function entryFromTensor(
  name: string,
  t: tf.Tensor,
  floatDtype: SafetensorsFloatDtype,
  source: string,
): SafetensorsEntry {
  const where = `${source}: tensor ${JSON.stringify(name)}`;
  check(
    t instanceof tf.Tensor && !t.isDisposed,
    'CHECKPOINT_FORMAT',
    () =>
      `${where}: expected a live tf.Tensor, got ${t instanceof tf.Tensor ? 'a disposed tensor' : describeValue(t)}`,
    () => ({ source, tensor: name }),
  );
  const shape = [...t.shape];
  switch (t.dtype) {
    case 'float32':
      return { dtype: floatDtype, shape, data: encodeFloat32(t.dataSync() as Float32Array, floatDtype) };
    case 'int32':
      return { dtype: 'I32', shape, data: littleEndianBytes(t.dataSync() as Int32Array) };
    case 'bool':
      return { dtype: 'BOOL', shape, data: Uint8Array.from(t.dataSync() as Uint8Array) };
    default:
      throw new AdapterError(
        'CHECKPOINT_FORMAT',
        `${where}: ${notOneOf('tensor dtype', t.dtype, ['float32', 'int32', 'bool'])}`,
        {
          source,
          tensor: name,
        },
      );
  }
}
