/**
 * Fuzzing the safetensors reader with a seeded PRNG (reproducible: a failure message names seed and iteration).
 *
 * 1. Mutations of every valid fixture file (bit flips, byte overwrites in header and data, inserted/deleted
 *    header bytes, number and dtype edits inside the header, truncation, extension, header-length changes).
 * 2. Generated containers checked against an independent oracle (a byte-coverage map instead of the reader's
 *    sorted walk), so accepting a bad layout or rejecting a good one is caught, not only crashes.
 *
 * Every outcome must be a self-consistent parse or an AdapterError with code CHECKPOINT_FORMAT naming the source.
 * An accepted file's entries must hold exactly `dtype`, `shape` and `data_offsets` (one mutation adds a key).
 */
import { describe, expect, it } from 'vitest';
import { AdapterError } from '../../src/errors.js';
import { createRng, type Rng } from '../../src/rng.js';
import {
  DTYPE_SIZES,
  SAFETENSORS_DTYPES,
  decodeElements,
  decodeToFloat32,
  elementCount,
  parseSafetensors,
  writeSafetensors,
  type SafetensorsFile,
} from '../../src/io/safetensors.js';
import { container, headerLength, validFiles } from './safetensors-helpers.js';

const SOURCE = 'fuzz.safetensors';
const MUTATIONS_PER_FILE = 3000;
const GENERATED_CONTAINERS = 6000;
const HEADER_CHARS = [...'{}[]",:\\-0123456789 eE.tfnu']
  .map((c) => c.charCodeAt(0))
  .concat([0x00, 0x7f, 0xc3, 0xff]);
const BOGUS_DTYPES = ['F8_E4M3', 'F8_E5M2', 'F33', 'f32', ''];
const EXTRA_KEYS = ['extra', '__proto__', 'constructor', 'dtype2', 'Shape', 'data_offsets ', ''];
const EXTRA_VALUES = ['{}', '1', '"F32"', '[]', 'null', '[0,8]'];
const ENTRY_KEYS = ['data_offsets', 'dtype', 'shape'];
const NAME_PIECES = ['a', 'b', 'é', '"', '\\', '{', ',', ':', '[', '\u{1F600}', '.', '0'];

type Outcome = 'accepted' | 'rejected';

/** Parses and classifies: a self-consistent parse, a CHECKPOINT_FORMAT rejection, or a test failure. */
function outcome(bytes: Uint8Array, where: () => string): Outcome {
  let parsed: SafetensorsFile;
  try {
    parsed = parseSafetensors(bytes, SOURCE);
  } catch (e) {
    if (e instanceof AdapterError && e.code === 'CHECKPOINT_FORMAT' && e.message.startsWith(`${SOURCE}: `))
      return 'rejected';
    throw new Error(
      `${where()}: unexpected ${e instanceof AdapterError ? `code ${e.code}` : 'exception'}: ${String(e)}`,
    );
  }
  const problem = inconsistency(bytes, parsed);
  if (problem !== null) throw new Error(`${where()}: accepted but inconsistent: ${problem}`);
  return 'accepted';
}

/** Re-validates an accepted parse independently; `null` when consistent. */
function inconsistency(bytes: Uint8Array, parsed: SafetensorsFile): string | null {
  let covered = 0;
  for (const [name, entry] of parsed.tensors) {
    const n = elementCount(entry.shape);
    if (entry.data.length !== n * DTYPE_SIZES[entry.dtype])
      return `${name}: ${entry.data.length} bytes for ${n} elements`;
    if (decodeElements(entry).length !== n || decodeToFloat32(entry).length !== n)
      return `${name}: decoded length`;
    covered += entry.data.length;
  }
  if (8 + headerLength(bytes) + covered !== bytes.length)
    return 'tensors do not cover the data buffer exactly';
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength(bytes))));
  for (const [name, entry] of Object.entries(header as Record<string, object>)) {
    if (name !== '__metadata__' && Object.keys(entry).sort().join() !== ENTRY_KEYS.join())
      return `${name}: entry keys ${Object.keys(entry).join(', ')}`;
  }
  const again = parseSafetensors(writeSafetensors(parsed.tensors, parsed.metadata));
  if ([...again.tensors.keys()].sort().join('\n') !== [...parsed.tensors.keys()].sort().join('\n'))
    return 'rewrite lost names';
  return null;
}

/** Header bytes actually present: `N` clamped to the file (mutations see files of any shape, even < 8 bytes). */
const headerSpan = (b: Uint8Array) => (b.length < 8 ? 0 : Math.min(headerLength(b), b.length - 8));
const int = (rng: Rng, n: number) => Math.floor(rng.next() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)]!;

function withHeaderLength(bytes: Uint8Array, n: bigint): Uint8Array {
  const out = bytes.slice();
  if (out.length >= 8) new DataView(out.buffer).setBigUint64(0, n, true);
  return out;
}

/** Replaces the header text (keeping the data) and fixes `N`, so edits reach the deeper checks. */
function editHeader(bytes: Uint8Array, edit: (text: string) => string): Uint8Array {
  const n = headerSpan(bytes);
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  return container(edit(text), bytes.subarray(8 + n));
}

function replaceRandomMatch(rng: Rng, text: string, pattern: RegExp, replacement: string): string {
  const matches = [...text.matchAll(pattern)];
  if (matches.length === 0) return text;
  const m = pick(rng, matches);
  return text.slice(0, m.index) + replacement + text.slice(m.index! + m[0].length);
}

const MUTATIONS: ((rng: Rng, b: Uint8Array) => Uint8Array)[] = [
  (rng, b) => {
    const out = b.slice();
    if (out.length > 0) out[int(rng, out.length)]! ^= 1 << int(rng, 8);
    return out;
  },
  (rng, b) => {
    const out = b.slice();
    const n = headerSpan(b);
    if (n > 0) out[8 + int(rng, n)] = pick(rng, HEADER_CHARS);
    return out;
  },
  (rng, b) => {
    const out = b.slice();
    const start = 8 + headerSpan(b);
    if (start < out.length) out[start + int(rng, out.length - start)] = int(rng, 256);
    return out;
  },
  (rng, b) => b.slice(0, int(rng, b.length)),
  (rng, b) => {
    const out = new Uint8Array(b.length + 1 + int(rng, 16));
    out.set(b);
    out.set(
      out.subarray(b.length).map(() => int(rng, 256)),
      b.length,
    );
    return out;
  },
  (rng, b) => {
    const n = BigInt(headerSpan(b));
    const choices = [
      0n,
      1n,
      n - 1n,
      n + 1n,
      n + 8n,
      BigInt(b.length),
      100_000_000n,
      100_000_001n,
      2n ** 63n,
      2n ** 64n - 1n,
    ];
    return withHeaderLength(b, rng.next() < 0.5 ? pick(rng, choices) : BigInt(int(rng, 2 ** 32)));
  },
  (rng, b) => {
    const out = b.slice();
    const n = headerSpan(b);
    const at = 8 + int(rng, n);
    const edited =
      rng.next() < 0.5
        ? [...out.subarray(0, at), pick(rng, HEADER_CHARS), ...out.subarray(at)]
        : [...out.subarray(0, at), ...out.subarray(at + 1)];
    return withHeaderLength(
      new Uint8Array(edited),
      BigInt(rng.next() < 0.5 ? n : n + (edited.length - out.length)),
    );
  },
  (rng, b) => {
    const numbers = [
      '-1',
      '1.5',
      '1e3',
      '0',
      '-0',
      '4294967296',
      '9007199254740993',
      '1e400',
      String(b.length),
      String(int(rng, 64)),
    ];
    return editHeader(b, (t) => replaceRandomMatch(rng, t, /\d+/g, pick(rng, numbers)));
  },
  (rng, b) => {
    const dtypes = [...SAFETENSORS_DTYPES, ...BOGUS_DTYPES];
    return editHeader(b, (t) =>
      replaceRandomMatch(rng, t, /"dtype":"[A-Z0-9_]+"/g, `"dtype":"${pick(rng, dtypes)}"`),
    );
  },
  (rng, b) => editHeader(b, (t) => replaceRandomMatch(rng, t, /"[^"\\]*":/g, `"${pick(rng, NAME_PIECES)}":`)),
  EXTRA_KEY,
];

/** Adds a key to one tensor entry (before or after its own keys): the reader must reject it by name. */
function EXTRA_KEY(rng: Rng, b: Uint8Array): Uint8Array {
  const extra = `"${pick(rng, EXTRA_KEYS)}":${pick(rng, EXTRA_VALUES)}`;
  return editHeader(b, (t) =>
    rng.next() < 0.5
      ? t.replace(/("data_offsets":\[\d+,\s*\d+\])/, `$1,${extra}`)
      : replaceRandomMatch(rng, t, /\{"dtype"/g, `{${extra},"dtype"`),
  );
}

/** A random container spec: tensors with offsets that are laid out contiguously, then sometimes perturbed. */
interface GeneratedTensor {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

function generateTensors(rng: Rng): { tensors: GeneratedTensor[]; dataLength: number } {
  const tensors: GeneratedTensor[] = [];
  let offset = 0;
  for (let i = int(rng, 6); i > 0; i--) {
    const dtype = rng.next() < 0.03 ? pick(rng, BOGUS_DTYPES) : pick(rng, SAFETENSORS_DTYPES);
    const shape = Array.from({ length: int(rng, 4) }, () => (rng.next() < 0.2 ? 0 : 1 + int(rng, 3)));
    const size = elementCount(shape) * (DTYPE_SIZES[dtype as keyof typeof DTYPE_SIZES] ?? 4);
    const name = Array.from({ length: 1 + int(rng, 3) }, () => pick(rng, NAME_PIECES)).join('');
    tensors.push({ name, dtype, shape, begin: offset, end: offset + size });
    offset += size;
  }
  if (tensors.length > 0 && rng.next() < 0.5) perturb(rng, pick(rng, tensors), offset);
  if (tensors.length > 1 && rng.next() < 0.2) {
    const [a, b] = [pick(rng, tensors), pick(rng, tensors)];
    [a.begin, a.end, b.begin, b.end] = [b.begin, b.end, a.begin, a.end]; // reorder the data: still valid if sizes match
  }
  const dataLength = Math.max(0, offset + (rng.next() < 0.2 ? pick(rng, [-2, -1, 1, 3]) : 0));
  return { tensors, dataLength };
}

/** Moves a tensor (a gap or an overlap), moves one end (a size mismatch), or drops an empty tensor anywhere. */
function perturb(rng: Rng, t: GeneratedTensor, dataEnd: number): void {
  const delta = pick(rng, [-4, -2, -1, 1, 2, 4]);
  const kind = int(rng, 4);
  if (kind === 0 && t.begin === t.end) t.begin = t.end = int(rng, dataEnd + 2);
  else if (kind <= 1) [t.begin, t.end] = [Math.max(0, t.begin + delta), Math.max(0, t.end + delta)];
  else if (kind === 2) t.begin = Math.max(0, t.begin + delta);
  else t.end = Math.max(0, t.end + delta);
}

/** Independent validity rule: every data byte covered once by non-empty tensors; empty ones only at boundaries. */
function oracleAccepts({ tensors, dataLength }: { tensors: GeneratedTensor[]; dataLength: number }): boolean {
  if (new Set(tensors.map((t) => t.name)).size !== tensors.length) return false;
  const coverage = new Uint8Array(dataLength);
  for (const t of tensors) {
    const size = DTYPE_SIZES[t.dtype as keyof typeof DTYPE_SIZES];
    if (size === undefined || !Object.hasOwn(DTYPE_SIZES, t.dtype)) return false;
    if (t.end < t.begin || t.end > dataLength || t.end - t.begin !== elementCount(t.shape) * size)
      return false;
    for (let i = t.begin; i < t.end; i++) coverage[i]!++;
  }
  if (!coverage.every((c) => c === 1)) return false;
  return tensors.every(
    (t) => t.begin !== t.end || !tensors.some((o) => o.begin < t.begin && t.begin < o.end),
  );
}

function serialize(
  { tensors, dataLength }: { tensors: GeneratedTensor[]; dataLength: number },
  rng: Rng,
): Uint8Array {
  const entries = tensors.map(
    (t) =>
      `${JSON.stringify(t.name)}:{"dtype":${JSON.stringify(t.dtype)},"shape":${JSON.stringify(t.shape)},"data_offsets":[${t.begin},${t.end}]}`,
  );
  const metadata = rng.next() < 0.3 ? [`"__metadata__":{"format":"pt"}`] : [];
  const data = new Uint8Array(dataLength).map(() => int(rng, 256));
  return container(`{${[...metadata, ...entries].join(',')}}${' '.repeat(int(rng, 8))}`, data);
}

describe('safetensors reader fuzz', () => {
  it('mutated valid files either parse self-consistently or fail with CHECKPOINT_FORMAT', () => {
    const rng = createRng(0x5afe);
    const counts: Record<Outcome, number> = { accepted: 0, rejected: 0 };
    const rules = new Set<string>();
    let extraKeyRejections = 0;
    const start = performance.now();
    for (const [name, original] of validFiles()) {
      expect(outcome(original, () => name)).toBe('accepted');
      for (let i = 0; i < MUTATIONS_PER_FILE; i++) {
        let bytes = original;
        const steps = 1 + int(rng, 3);
        const applied: number[] = [];
        for (let s = 0; s < steps; s++) {
          const m = int(rng, MUTATIONS.length);
          applied.push(m);
          bytes = MUTATIONS[m]!(rng, bytes);
        }
        const result = outcome(bytes, () => `${name} iteration ${i} mutations [${applied}]`);
        counts[result]++;
        if (result === 'rejected') rules.add(ruleOf(bytes));
        if (
          result === 'rejected' &&
          applied.at(-1) === MUTATIONS.indexOf(EXTRA_KEY) &&
          /unexpected key/.test(ruleOf(bytes))
        )
          extraKeyRejections++;
      }
    }
    expect(counts.accepted + counts.rejected).toBeGreaterThanOrEqual(10_000);
    expect(counts.accepted).toBeGreaterThan(100);
    expect(counts.rejected).toBeGreaterThan(1000);
    expect(extraKeyRejections).toBeGreaterThan(200);
    expect(rules.size).toBeGreaterThanOrEqual(10); // many different checks were reached
    expect(performance.now() - start).toBeLessThan(60_000); // the bound the fuzz budget promises, not a benchmark
  });

  it('generated containers are accepted exactly when an independent coverage oracle accepts them', () => {
    const rng = createRng(0xc0ffee);
    const counts: Record<Outcome, number> = { accepted: 0, rejected: 0 };
    const rules = new Set<string>();
    for (let i = 0; i < GENERATED_CONTAINERS; i++) {
      const spec = generateTensors(rng);
      const bytes = serialize(spec, rng);
      const result = outcome(bytes, () => `generated container ${i}`);
      counts[result]++;
      if (result === 'rejected') rules.add(firstWordOfRule(bytes));
      if ((result === 'accepted') !== oracleAccepts(spec)) {
        expect.fail(`generated container ${i}: reader ${result}, oracle disagrees: ${JSON.stringify(spec)}`);
      }
    }
    expect(counts.accepted).toBeGreaterThan(1000);
    expect(counts.rejected).toBeGreaterThan(1000);
    const reached = ['gap', 'overlaps', 'duplicate', 'unsupported', 'byte', 'data_offsets'];
    expect([...rules]).toEqual(expect.arrayContaining(reached));
  });
});

/** The rule part of a rejection message, with numbers and names blanked, to count distinct checks reached. */
function ruleOf(bytes: Uint8Array): string {
  try {
    parseSafetensors(bytes, SOURCE);
  } catch (e) {
    return (e as Error).message
      .replace(/"(?:[^"\\]|\\.)*"/g, '""')
      .replace(/\d+/g, '#')
      .replace(/\(.*\)/, '');
  }
  return '';
}

/** The first word of the rule broken (`gap`, `overlaps`, `duplicate`, …), after the source and tensor. */
function firstWordOfRule(bytes: Uint8Array): string {
  return ruleOf(bytes)
    .replace(/^.*?: (tensor "": )?/, '')
    .split(' ')[0]!;
}
