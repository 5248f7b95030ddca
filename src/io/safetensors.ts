/**
 * The safetensors container (SPEC §4.4): a strict reader and a deterministic writer over raw bytes.
 *
 * Layout: `N` (u64 little-endian) · `N` bytes of UTF-8 JSON header · the data buffer. The header maps each
 * tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the data buffer) and may hold
 * `__metadata__`, a string → string map.
 *
 * This module works on `Uint8Array`s and typed arrays only (no TensorFlow.js), so it runs anywhere and never
 * copies tensor data while parsing. `./safetensors-tf.ts` converts to and from `tf.Tensor`s.
 *
 * Every rejection is an {@link AdapterError} with code `CHECKPOINT_FORMAT` whose message starts with the
 * source label (e.g. the file path), then the tensor when one is at fault, then the rule broken.
 */
import { AdapterError, check, describeValue, isPlainObject } from '../errors.js';
import { decodeBfloat16, decodeFloat16, encodeBfloat16, encodeFloat16 } from './dtypes.js';

/**
 * Every dtype the reader accepts, in the reference writer's layout order (descending dtype).
 * Others (`F8_E4M3`, `F8_E5M2`, `F4`, …) are rejected.
 */
export const SAFETENSORS_DTYPES = [
  'U64',
  'I64',
  'F64',
  'F32',
  'U32',
  'I32',
  'BF16',
  'F16',
  'U16',
  'I16',
  'I8',
  'U8',
  'BOOL',
] as const;

/** A safetensors dtype name as written in the header. */
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

/** The dtypes the writer can produce from float32 values. */
export type SafetensorsFloatDtype = 'F32' | 'F16' | 'BF16';

/** Bytes per element of each dtype. */
export const DTYPE_SIZES: Readonly<Record<SafetensorsDtype, number>> = {
  U64: 8,
  I64: 8,
  F64: 8,
  F32: 4,
  U32: 4,
  I32: 4,
  BF16: 2,
  F16: 2,
  U16: 2,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** The largest header length `N` the reader accepts (checked before the header is read). */
export const MAX_HEADER_LENGTH = 100_000_000;

/** One tensor of a safetensors file: its dtype, shape and raw little-endian, row-major bytes. */
export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** `product(shape) × DTYPE_SIZES[dtype]` bytes. From the reader: a view into the file's bytes, not a copy. */
  data: Uint8Array;
}

/** A parsed safetensors file. */
export interface SafetensorsFile {
  /** The `__metadata__` map, or `null` when the header has none (or holds `null`, as the reference allows). */
  metadata: Record<string, string> | null;
  /**
   * The tensors in data order: ascending `data_offsets`; zero-element tensors sharing an offset are ordered as
   * the writer orders them (dtype, then name). For a file laid out by the reference writer (or by
   * {@link writeSafetensors}) this is also the header's order.
   */
  tensors: Map<string, SafetensorsEntry>;
}

/** Typed-array view of decoded elements, one per dtype family (see {@link decodeElements}). */
export type DecodedElements =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

const DEFAULT_SOURCE = 'safetensors data';
const METADATA_KEY = '__metadata__';
const SPACE = 0x20;
const PREFIX_BYTES = 8;
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------------------------

/**
 * Parses and fully validates a safetensors file. Nothing is allocated for tensor data: each entry's `data` is a
 * view into `bytes`.
 *
 * Rejected with `CHECKPOINT_FORMAT`: fewer than 8 bytes; `N` above {@link MAX_HEADER_LENGTH} or past the end of
 * the file; a header that is not UTF-8, not JSON, or does not start with `{`; a duplicated key anywhere in the
 * header; `__metadata__` that is not a string → string map; an entry without a known dtype, a shape of
 * non-negative integers, or `data_offsets` of two non-negative integers with `begin ≤ end`; a byte length other
 * than `product(shape) × dtype size`; offsets past the buffer; gaps, overlaps or bytes after the last tensor.
 * Zero-element tensors (`begin = end`) may share an offset with a neighbour. An entry holds exactly `dtype`,
 * `shape` and `data_offsets`: any other key is rejected, naming the tensor and the key.
 *
 * @param bytes - The whole file.
 * @param source - Label used in error messages, e.g. the file path.
 * @returns The metadata (or `null`) and the tensors in data order.
 * @throws AdapterError `CHECKPOINT_FORMAT` naming the source, the tensor where relevant, and the rule broken.
 * @example
 * ```ts
 * const { metadata, tensors } = parseSafetensors(await readFile(path), path);
 * const weight = decodeToFloat32(tensors.get('lora_A.weight')!);
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, source: string = DEFAULT_SOURCE): SafetensorsFile {
  ensure(
    bytes instanceof Uint8Array,
    source,
    null,
    () => `expected a Uint8Array, got ${describeValue(bytes)}`,
  );
  const headerLength = readHeaderLength(bytes, source);
  const header = decodeHeader(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength), source);
  const dataStart = PREFIX_BYTES + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata = readMetadata(header, source);
  const infos = Object.entries(header)
    .filter(([name]) => name !== METADATA_KEY)
    .map(([name, value]) => readTensorInfo(name, value, dataLength, source));
  const tensors = new Map<string, SafetensorsEntry>();
  for (const { name, dtype, shape, begin, end } of checkLayout(infos, dataLength, source)) {
    tensors.set(name, { dtype, shape, data: bytes.subarray(dataStart + begin, dataStart + end) });
  }
  return { metadata, tensors };
}

function readHeaderLength(bytes: Uint8Array, source: string): number {
  ensure(bytes.length >= PREFIX_BYTES, source, null, () => {
    return `file is ${bytes.length} bytes, shorter than the 8-byte header length prefix`;
  });
  const n = new DataView(bytes.buffer, bytes.byteOffset, PREFIX_BYTES).getBigUint64(0, true);
  ensure(n <= BigInt(MAX_HEADER_LENGTH), source, null, () => {
    return `header length ${n} exceeds the limit of ${MAX_HEADER_LENGTH} bytes`;
  });
  const length = Number(n);
  ensure(PREFIX_BYTES + length <= bytes.length, source, null, () => {
    return `header length ${length} runs past the end of the file (${bytes.length} bytes leave room for ${bytes.length - PREFIX_BYTES})`;
  });
  return length;
}

function decodeHeader(headerBytes: Uint8Array, source: string): Record<string, unknown> {
  ensure(headerBytes[0] === 0x7b, source, null, () => {
    const first =
      headerBytes.length === 0 ? 'it is empty' : `its first byte is 0x${headerBytes[0]!.toString(16)}`;
    return `header must be a JSON object starting with "{", but ${first}`;
  });
  let text: string;
  try {
    text = utf8Decoder.decode(headerBytes);
  } catch {
    return fail(source, 'header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(source, `header is not valid JSON (${(e as Error).message})`);
  }
  checkNoDuplicateKeys(text, source);
  return header as Record<string, unknown>; // valid JSON text starting with `{` is an object
}

/**
 * `JSON.parse` silently keeps the last of duplicated keys, so scan the (already valid) JSON text: a stack of
 * key sets, one per open object (`null` for arrays). Strings are skipped whole, so brackets, commas and escaped
 * quotes inside names and values never confuse the scan.
 */
function checkNoDuplicateKeys(text: string, source: string): void {
  const stack: ({ keys: Set<string>; owner: string | null } | null)[] = [];
  let topLevelKey: string | null = null;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = stringEnd(text, i);
      const frame = stack[stack.length - 1];
      if (expectKey && frame) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (frame.keys.has(key)) duplicateKey(key, frame.owner, source);
        frame.keys.add(key);
        if (stack.length === 1) topLevelKey = key;
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */) {
      stack.push({ keys: new Set(), owner: stack.length === 0 ? null : topLevelKey });
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      expectKey = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] !== null;
    }
  }
}

function duplicateKey(key: string, owner: string | null, source: string): never {
  if (owner !== null && owner !== METADATA_KEY) {
    ensure(false, source, owner, () => `duplicate key ${quote(key)} in its header entry`);
  }
  const what = owner === null && key !== METADATA_KEY ? 'tensor name' : 'key';
  return fail(source, `duplicate ${what} ${quote(key)} in ${owner === null ? 'the header' : METADATA_KEY}`);
}

/** Index of the closing quote of the JSON string literal opening at `start`. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c /* \ */ ? 2 : 1;
  return i;
}

function readMetadata(header: Record<string, unknown>, source: string): Record<string, string> | null {
  const metadata = Object.hasOwn(header, METADATA_KEY) ? header[METADATA_KEY] : null;
  if (metadata === null) return null;
  ensure(isPlainObject(metadata), source, null, () => {
    return `${METADATA_KEY} must be an object mapping strings to strings, got ${describeValue(metadata)}`;
  });
  checkStringMap(metadata, source);
  return metadata as Record<string, string>;
}

function checkStringMap(metadata: Record<string, unknown>, source: string): void {
  for (const [key, value] of Object.entries(metadata)) {
    ensure(typeof value === 'string', source, null, () => {
      return `${METADATA_KEY} value for key ${quote(key)} must be a string, got ${brief(value)}`;
    });
  }
}

/** The keys of a tensor entry, exactly (the reference reader rejects any other). */
const ENTRY_KEYS: readonly string[] = ['dtype', 'shape', 'data_offsets'];

function readTensorInfo(name: string, value: unknown, dataLength: number, source: string): TensorInfo {
  ensure(isPlainObject(value), source, name, () => {
    return `header entry must be an object {dtype, shape, data_offsets}, got ${describeValue(value)}`;
  });
  for (const key of Object.keys(value)) {
    ensure(ENTRY_KEYS.includes(key), source, name, () => {
      return `unexpected key ${quote(key)} in the header entry; an entry holds exactly ${ENTRY_KEYS.join(', ')}`;
    });
  }
  const dtype = checkDtype(value.dtype, name, source);
  const shape = checkShape(value.shape, name, source);
  const offsets = value.data_offsets;
  ensure(
    Array.isArray(offsets) && offsets.length === 2 && offsets.every(isNonNegativeInteger),
    source,
    name,
    () => {
      return `data_offsets must be [begin, end] with non-negative integers below 2^53, got ${brief(offsets)}`;
    },
  );
  const [begin, end] = offsets as [number, number];
  ensure(begin <= end, source, name, () => `data_offsets [${begin}, ${end}] end before they begin`);
  ensure(end <= dataLength, source, name, () => {
    return `data_offsets [${begin}, ${end}] run past the end of the ${dataLength}-byte data buffer`;
  });
  checkByteLength(end - begin, dtype, shape, name, source);
  return { name, dtype, shape, begin, end };
}

/**
 * Sorts by offsets and walks the buffer: each tensor must begin exactly where the previous one ended, and the
 * last must end at the end of the file. Ties (zero-element tensors at one offset) are put in the writer's order.
 */
function checkLayout(infos: TensorInfo[], dataLength: number, source: string): TensorInfo[] {
  const ordered = infos.sort((a, b) => a.begin - b.begin || a.end - b.end || compareWriterOrder(a, b));
  let cursor = 0;
  let previous: string | null = null;
  for (const { name, begin, end } of ordered) {
    const after = previous === null ? 'the start of the data buffer' : `the end of tensor ${quote(previous)}`;
    ensure(begin <= cursor, source, name, () => {
      return `gap of ${begin - cursor} unused bytes: data begins at ${begin}, but ${after} is at ${cursor}`;
    });
    ensure(begin >= cursor, source, name, () => {
      return `overlaps tensor ${quote(previous ?? '')}: data_offsets [${begin}, ${end}] begin before ${cursor}, where it ends`;
    });
    cursor = end;
    previous = name;
  }
  ensure(cursor === dataLength, source, null, () => {
    return `${dataLength - cursor} trailing bytes after the last tensor (data buffer ${dataLength} bytes, tensors cover ${cursor})`;
  });
  return ordered;
}

// ---------------------------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------------------------

/**
 * Writes a safetensors file, laid out as the reference writer does, so identical input gives identical bytes:
 * tensors ordered by dtype (`U64, I64, F64, F32, U32, I32, BF16, F16, U16, I16, I8, U8, BOOL`), then by name in
 * ascending UTF-8 byte order; compact JSON header beginning with `__metadata__` (its keys also in byte order)
 * when `metadata` is given; header padded with spaces so that `8 + N` is a multiple of 8; data contiguous.
 *
 * The input order of `tensors` does not matter. Every entry is validated before anything is allocated.
 *
 * @param tensors - `[name, {dtype, shape, data}]` pairs (a `Map` works); `data` holds the raw little-endian bytes.
 * @param metadata - Optional string → string map written as `__metadata__`; `null`/omitted writes none.
 * @param source - Label used in error messages, e.g. the destination path.
 * @returns The file's bytes.
 * @throws AdapterError `CHECKPOINT_FORMAT` for a duplicated or reserved name, an unknown dtype, a bad shape, a
 * data length other than `product(shape) × dtype size`, a non-string metadata value, or a header over the limit.
 * @example
 * ```ts
 * const bytes = writeSafetensors(
 *   new Map([['w', { dtype: 'F16', shape: [2], data: encodeFloat32(new Float32Array([1, 2]), 'F16') }]]),
 *   { format: 'pt' },
 * );
 * ```
 */
export function writeSafetensors(
  tensors: Iterable<readonly [string, SafetensorsEntry]>,
  metadata: Readonly<Record<string, string>> | null = null,
  source: string = DEFAULT_SOURCE,
): Uint8Array {
  const entries = collectEntries(tensors, source).sort(compareWriterOrder);
  if (metadata !== null) checkWritableMetadata(metadata, source);
  const header = utf8Encoder.encode(headerJson(entries, metadata));
  const headerLength = header.length + ((PREFIX_BYTES - (header.length % PREFIX_BYTES)) % PREFIX_BYTES);
  ensure(headerLength <= MAX_HEADER_LENGTH, source, null, () => {
    return `header would be ${headerLength} bytes, above the limit of ${MAX_HEADER_LENGTH}`;
  });
  const dataStart = PREFIX_BYTES + headerLength;
  const out = new Uint8Array(dataStart + entries.reduce((sum, e) => sum + e.data.length, 0));
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(header, PREFIX_BYTES);
  out.fill(SPACE, PREFIX_BYTES + header.length, dataStart);
  let offset = dataStart;
  for (const { data } of entries) {
    out.set(data, offset);
    offset += data.length;
  }
  return out;
}

interface WriterEntry extends SafetensorsEntry {
  name: string;
}

function collectEntries(
  tensors: Iterable<readonly [string, SafetensorsEntry]>,
  source: string,
): WriterEntry[] {
  const entries: WriterEntry[] = [];
  const seen = new Set<string>();
  for (const [name, entry] of tensors) {
    ensure(
      typeof name === 'string',
      source,
      null,
      () => `tensor names must be strings, got ${describeValue(name)}`,
    );
    ensure(name !== METADATA_KEY, source, name, () => `the name ${METADATA_KEY} is reserved for metadata`);
    ensure(!seen.has(name), source, name, () => 'duplicate tensor name');
    seen.add(name);
    entries.push(checkWritableEntry(name, entry, source));
  }
  return entries;
}

function checkWritableEntry(name: string, entry: SafetensorsEntry, source: string): WriterEntry {
  ensure(typeof entry === 'object' && entry !== null, source, name, () => {
    return `expected {dtype, shape, data}, got ${describeValue(entry)}`;
  });
  const dtype = checkDtype(entry.dtype, name, source);
  const shape = checkShape(entry.shape, name, source);
  const { data } = entry;
  ensure(
    data instanceof Uint8Array,
    source,
    name,
    () => `data must be a Uint8Array, got ${describeValue(data)}`,
  );
  checkByteLength(data.length, dtype, shape, name, source);
  return { name, dtype, shape, data };
}

function checkWritableMetadata(metadata: Readonly<Record<string, string>>, source: string): void {
  ensure(isPlainObject(metadata), source, null, () => {
    return `metadata must be a plain object mapping strings to strings, got ${describeValue(metadata)}`;
  });
  checkStringMap(metadata, source);
}

/** Compact JSON, byte for byte as the reference writer (serde_json) produces it. */
function headerJson(
  entries: readonly WriterEntry[],
  metadata: Readonly<Record<string, string>> | null,
): string {
  const parts: string[] = [];
  if (metadata !== null) parts.push(`"${METADATA_KEY}":${metadataJson(metadata)}`);
  let offset = 0;
  for (const { name, dtype, shape, data } of entries) {
    const offsets = `[${offset},${offset + data.length}]`;
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${dtype}","shape":[${shape.join(',')}],"data_offsets":${offsets}}`,
    );
    offset += data.length;
  }
  return `{${parts.join(',')}}`;
}

function metadataJson(metadata: Readonly<Record<string, string>>): string {
  const keys = Object.keys(metadata).sort(compareByteOrder);
  return `{${keys.map((key) => `${JSON.stringify(key)}:${JSON.stringify(metadata[key])}`).join(',')}}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding and encoding elements
// ---------------------------------------------------------------------------------------------------------------

/**
 * Number of elements of a tensor with this shape (1 for a 0-d tensor, 0 if any dimension is 0).
 *
 * @param shape - Non-negative integer dimensions.
 * @returns The product of the dimensions.
 */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * Decodes an entry's bytes into a fresh typed array of its natural element type: `F16`/`BF16` widen exactly to
 * `Float32Array`; `F32`, `F64`, the integer dtypes map to the matching typed array (`I64`/`U64` to the BigInt
 * arrays); `BOOL` to a `Uint8Array` of 0/1 (any non-zero byte is true).
 *
 * @param entry - A tensor from {@link parseSafetensors} (or any valid entry).
 * @returns `elementCount(entry.shape)` elements.
 */
export function decodeElements(entry: SafetensorsEntry): DecodedElements {
  switch (entry.dtype) {
    case 'F16':
      return decodeFloat16(entry.data);
    case 'BF16':
      return decodeBfloat16(entry.data);
    case 'BOOL':
      return Uint8Array.from(entry.data, (b) => (b === 0 ? 0 : 1));
    default:
      return TYPED_ARRAYS[entry.dtype](hostOrderCopy(entry.data, DTYPE_SIZES[entry.dtype]));
  }
}

const TYPED_ARRAYS: Record<
  Exclude<SafetensorsDtype, 'F16' | 'BF16' | 'BOOL'>,
  (b: ArrayBuffer) => DecodedElements
> = {
  U64: (b) => new BigUint64Array(b),
  I64: (b) => new BigInt64Array(b),
  F64: (b) => new Float64Array(b),
  F32: (b) => new Float32Array(b),
  U32: (b) => new Uint32Array(b),
  I32: (b) => new Int32Array(b),
  U16: (b) => new Uint16Array(b),
  I16: (b) => new Int16Array(b),
  I8: (b) => new Int8Array(b),
  U8: (b) => new Uint8Array(b),
};

/**
 * Decodes an entry to float32 values, as checkpoint I/O does (SPEC §2.1): `F16` and `BF16` widen exactly, `F64`
 * and integers round to the nearest float32 (ties to even; 64-bit integers are rounded once, not twice), `BOOL`
 * gives 0/1.
 *
 * @param entry - A tensor from {@link parseSafetensors} (or any valid entry).
 * @returns `elementCount(entry.shape)` float32 values.
 * @example
 * ```ts
 * const w = decodeToFloat32(parseSafetensors(bytes).tensors.get('w')!);
 * ```
 */
export function decodeToFloat32(entry: SafetensorsEntry): Float32Array {
  const values = decodeElements(entry);
  if (values instanceof Float32Array) return values;
  if (values instanceof BigInt64Array || values instanceof BigUint64Array) {
    return Float32Array.from(values, (v) => roundToOddDouble(v));
  }
  return Float32Array.from(values); // ToFloat32 rounds to nearest, ties to even
}

/**
 * A double that rounds to the same float32 as the integer `v`. Integers beyond 2^53 are first rounded to 53 bits
 * by truncating with a sticky low bit (round to odd), which makes the later float32 rounding correct.
 */
function roundToOddDouble(v: bigint): number {
  const magnitude = v < 0n ? -v : v;
  const shift = magnitude.toString(2).length - 53;
  if (shift <= 0) return Number(v);
  const kept = (magnitude >> BigInt(shift)) | ((magnitude & ((1n << BigInt(shift)) - 1n)) === 0n ? 0n : 1n);
  return (v < 0n ? -1 : 1) * Number(kept) * 2 ** shift;
}

/**
 * Encodes float32 values as the raw bytes of an `F32`, `F16` or `BF16` tensor (16-bit formats: round to nearest
 * even, overflow to ±∞, NaN kept as NaN).
 *
 * @param values - float32 values.
 * @param dtype - Target dtype; default `F32`.
 * @returns Little-endian bytes for a {@link SafetensorsEntry}.
 * @example
 * ```ts
 * const data = encodeFloat32(new Float32Array([0.1, 2]), 'BF16'); // 4 bytes
 * ```
 */
export function encodeFloat32(values: Float32Array, dtype: SafetensorsFloatDtype = 'F32'): Uint8Array {
  if (dtype === 'F16') return encodeFloat16(values);
  if (dtype === 'BF16') return encodeBfloat16(values);
  return littleEndianBytes(values);
}

/**
 * Copies a typed array's elements into little-endian bytes, the raw data of a safetensors entry of the
 * matching dtype (e.g. `Int32Array` → `I32`, `BigInt64Array` → `I64`, `Uint8Array` → `U8`/`BOOL`).
 *
 * @param values - Any typed array.
 * @returns A fresh `Uint8Array` of `values.byteLength` bytes.
 */
export function littleEndianBytes(values: DecodedElements): Uint8Array {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return new Uint8Array(hostOrderCopy(bytes, values.BYTES_PER_ELEMENT));
}

/** An aligned copy of little-endian elements in host byte order (a byte swap on big-endian hosts, else a copy). */
function hostOrderCopy(bytes: Uint8Array, elementSize: number): ArrayBuffer {
  const copy = new Uint8Array(bytes); // not slice(): on a Node Buffer that returns a view
  if (!HOST_IS_LITTLE_ENDIAN && elementSize > 1) {
    for (let i = 0; i < copy.length; i += elementSize) copy.subarray(i, i + elementSize).reverse();
  }
  return copy.buffer;
}

// ---------------------------------------------------------------------------------------------------------------
// Shared checks and helpers
// ---------------------------------------------------------------------------------------------------------------

function checkDtype(dtype: unknown, name: string, source: string): SafetensorsDtype {
  ensure(typeof dtype === 'string' && Object.hasOwn(DTYPE_SIZES, dtype), source, name, () => {
    return `unsupported dtype ${brief(dtype)}; supported dtypes: ${SAFETENSORS_DTYPES.join(', ')}`;
  });
  return dtype as SafetensorsDtype;
}

function checkShape(value: unknown, name: string, source: string): number[] {
  ensure(Array.isArray(value) && value.every(isNonNegativeInteger), source, name, () => {
    return `shape must be an array of non-negative integers below 2^53, got ${brief(value)}`;
  });
  const shape = [...value] as number[];
  ensure(elementCount(shape) <= Number.MAX_SAFE_INTEGER, source, name, () => {
    return `shape [${shape.join(', ')}] has more elements than can be addressed`;
  });
  return shape;
}

function checkByteLength(
  byteLength: number,
  dtype: SafetensorsDtype,
  shape: number[],
  name: string,
  source: string,
): void {
  const expected = elementCount(shape) * DTYPE_SIZES[dtype];
  ensure(byteLength === expected, source, name, () => {
    return `byte length ${byteLength} disagrees with shape [${shape.join(', ')}] × ${dtype} (${DTYPE_SIZES[dtype]} bytes) = ${expected}`;
  });
}

function isNonNegativeInteger(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** Writer order: descending dtype as {@link SAFETENSORS_DTYPES} lists it, then name in UTF-8 byte order. */
function compareWriterOrder(a: { name: string; dtype: SafetensorsDtype }, b: typeof a): number {
  return (
    SAFETENSORS_DTYPES.indexOf(a.dtype) - SAFETENSORS_DTYPES.indexOf(b.dtype) ||
    compareByteOrder(a.name, b.name)
  );
}

/**
 * Compares strings in the order of their UTF-8 bytes (= code point order). UTF-16 code-unit order differs only
 * where a surrogate (part of a code point ≥ U+10000) meets a unit in U+E000–U+FFFF, so remap those two ranges.
 */
function compareByteOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** A short rendering of a header value for messages (never recursive: header values may be deeply nested). */
function brief(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.length <= 8 && value.every((v) => typeof v === 'number')) {
    return `[${value.join(', ')}]`;
  }
  return describeValue(value);
}

/** A JSON-quoted name, shortened if long (hostile headers may hold huge strings). */
function quote(name: string): string {
  return JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name);
}

function ensure(ok: unknown, source: string, tensor: string | null, rule: () => string): asserts ok {
  check(
    ok,
    'CHECKPOINT_FORMAT',
    () => `${source}: ${tensor === null ? '' : `tensor ${quote(tensor)}: `}${rule()}`,
    () => (tensor === null ? { source } : { source, tensor }),
  );
}

function fail(source: string, rule: string): never {
  ensure(false, source, null, () => rule);
}

/**
 * True for the errors this module throws on malformed containers (`AdapterError` with code `CHECKPOINT_FORMAT`).
 *
 * @param error - Anything caught.
 * @returns Whether `error` is a `CHECKPOINT_FORMAT` {@link AdapterError}.
 */
export function isCheckpointFormatError(error: unknown): error is AdapterError {
  return error instanceof AdapterError && error.code === 'CHECKPOINT_FORMAT';
}
