/**
 * Golden runner for group H (safetensors files, valid and corrupt; see the golden fixtures' README).
 *
 * `expect: "error"`: the file must be rejected with an `AdapterError` of code `CHECKPOINT_FORMAT`; acceptance or
 * any other exception fails. `expect: "ok"`: the file must parse and match, for each entry of `expectedTensors`,
 * its `dtype`, `shape`, `values` (the natural element values: float32 for F32/F16/BF16, float64 for F64, exact
 * integers, BigInt-exact for 64-bit integers when the value is safe or given as a string, BOOL as 0/1) and
 * `valuesAsF32` (the float32 conversion); plus `expectedMetadata`, `expectedHeaderOrder` (the tensors' order in
 * the data buffer, which must list every tensor) and the case-level `i64AsStrings` when present. Floats compare
 * bitwise (`-0` ≠ `0`, NaN = NaN; `"inf"`, `"-inf"`, `"nan"` stand for the non-finite values) unless the case
 * gives a `tolerance {atol, rtol}`. Nothing depends on case or tensor names.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  decodeElements,
  decodeToFloat32,
  isCheckpointFormatError,
  parseSafetensors,
  type SafetensorsEntry,
  type SafetensorsFile,
} from '../../src/io/safetensors.js';

/** Outcome of one case: `detail` says what matched or every mismatch found. */
export interface GoldenResult {
  ok: boolean;
  detail: string;
}

/** A group H `case.json`, as the runner reads it; each field is checked where it is used. */
export interface SafetensorsCase {
  name?: string;
  group?: string;
  description?: string;
  /** The file to parse, relative to the case folder (default `tensors.safetensors`). */
  file?: unknown;
  expect?: unknown;
  tolerance?: { atol?: unknown; rtol?: unknown } | null;
  expectedTensors?: Record<string, ExpectedTensor>;
  i64AsStrings?: unknown;
  expectedMetadata?: Record<string, string> | null;
  expectedHeaderOrder?: unknown;
}

interface Tolerance {
  atol: number;
  rtol: number;
}

interface ExpectedTensor {
  dtype?: string;
  shape?: number[];
  values?: unknown[];
  valuesAsF32?: unknown[];
}

const DEFAULT_FILE = 'tensors.safetensors';
const NON_FINITE: Readonly<Record<string, number>> = {
  inf: Infinity,
  '+inf': Infinity,
  '-inf': -Infinity,
  nan: NaN,
};
/** Dtypes whose natural values are float32 (so expected JSON numbers are rounded to float32 before comparing). */
const FLOAT32_VALUED = new Set(['F32', 'F16', 'BF16']);

/**
 * Runs one group-H case.
 *
 * @param caseDir - The case folder (holds `case.json` and the file named by `caseJson.file`).
 * @param caseJson - The parsed `case.json`.
 * @returns `ok` and a human-readable detail (the reader's message for rejected files, mismatches otherwise).
 * @example
 * ```ts
 * const dir = 'test/fixtures/golden/h-valid-metadata';
 * const { ok, detail } = await runSafetensorsCase(dir, JSON.parse(await readFile(`${dir}/case.json`, 'utf8')));
 * ```
 */
export async function runSafetensorsCase(caseDir: string, caseJson: SafetensorsCase): Promise<GoldenResult> {
  const path = join(caseDir, typeof caseJson.file === 'string' ? caseJson.file : DEFAULT_FILE);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    return { ok: false, detail: `cannot read ${path}: ${String(e)}` };
  }
  let parsed: SafetensorsFile;
  try {
    parsed = parseSafetensors(bytes, path);
  } catch (e) {
    return rejection(caseJson, e);
  }
  if (caseJson.expect === 'error') {
    return {
      ok: false,
      detail: `accepted a file that must be rejected (${caseJson.description ?? 'no description'})`,
    };
  }
  if (caseJson.expect !== 'ok')
    return { ok: false, detail: `unknown expect ${JSON.stringify(caseJson.expect)}` };
  const problems = [
    ...checkTensors(parsed, caseJson),
    ...checkMetadata(parsed, caseJson),
    ...checkOrder(parsed, caseJson),
  ];
  if (problems.length > 0) return { ok: false, detail: problems.join('; ') };
  return { ok: true, detail: `parsed ${parsed.tensors.size} tensors; every expectation matched` };
}

function rejection(caseJson: SafetensorsCase, error: unknown): GoldenResult {
  if (!isCheckpointFormatError(error)) {
    return {
      ok: false,
      detail: `threw something other than a CHECKPOINT_FORMAT AdapterError: ${String(error)}`,
    };
  }
  if (caseJson.expect === 'error') return { ok: true, detail: `rejected: ${error.message}` };
  return { ok: false, detail: `rejected a file that must be read: ${error.message}` };
}

function checkTensors(parsed: SafetensorsFile, caseJson: SafetensorsCase): string[] {
  const tolerance = readTolerance(caseJson.tolerance);
  const expected = Object.entries(caseJson.expectedTensors ?? {});
  const problems = expected.flatMap(([name, want]) => {
    const got = parsed.tensors.get(name);
    return got === undefined ? [`tensor "${name}" is missing`] : checkTensor(name, got, want, tolerance);
  });
  return [
    ...problems,
    ...checkI64Strings(
      parsed,
      expected.map(([name]) => name),
      caseJson.i64AsStrings,
    ),
  ];
}

function checkTensor(
  name: string,
  got: SafetensorsEntry,
  want: ExpectedTensor,
  tolerance: Tolerance | null,
): string[] {
  const problems: string[] = [];
  if (want.dtype !== undefined && want.dtype !== got.dtype)
    problems.push(`${name}: dtype ${got.dtype}, expected ${want.dtype}`);
  if (want.shape !== undefined && JSON.stringify(want.shape) !== JSON.stringify(got.shape)) {
    problems.push(`${name}: shape [${got.shape}], expected [${want.shape}]`);
  }
  if (want.values !== undefined) {
    const exactFloat = (v: number) => (FLOAT32_VALUED.has(got.dtype) ? Math.fround(v) : v);
    problems.push(
      ...compareAll(`${name}.values`, [...decodeElements(got)], want.values, exactFloat, tolerance),
    );
  }
  if (want.valuesAsF32 !== undefined) {
    problems.push(
      ...compareAll(
        `${name}.valuesAsF32`,
        [...decodeToFloat32(got)],
        want.valuesAsF32,
        Math.fround,
        tolerance,
      ),
    );
  }
  return problems;
}

/** Element-wise comparison; `round` maps an expected JSON number to the precision of the decoded values. */
function compareAll(
  what: string,
  got: (number | bigint)[],
  want: unknown[],
  round: (v: number) => number,
  tolerance: Tolerance | null,
): string[] {
  if (got.length !== want.length) return [`${what}: ${got.length} values, expected ${want.length}`];
  const bad = got.findIndex((g, i) => !valueMatches(g, want[i], round, tolerance));
  return bad < 0 ? [] : [`${what}[${bad}]: got ${String(got[bad])}, expected ${JSON.stringify(want[bad])}`];
}

function valueMatches(
  got: number | bigint,
  want: unknown,
  round: (v: number) => number,
  tolerance: Tolerance | null,
) {
  if (typeof got === 'bigint') return bigintMatches(got, want);
  const expected = expectedNumber(want);
  if (expected === undefined) return false;
  const target = round(expected);
  if (Object.is(got, target)) return true;
  if (tolerance === null || !Number.isFinite(target) || !Number.isFinite(got)) return false;
  return Math.abs(got - target) <= tolerance.atol + tolerance.rtol * Math.abs(target);
}

/** A 64-bit integer against a JSON number (exact when safe, else the nearest double, as JSON parsing rounds) or string. */
function bigintMatches(got: bigint, want: unknown): boolean {
  if (typeof want === 'string') return /^[+-]?\d+$/.test(want) && BigInt(want) === got;
  if (typeof want !== 'number') return false;
  return Number.isSafeInteger(want) ? BigInt(want) === got : Number(got) === want;
}

function expectedNumber(want: unknown): number | undefined {
  if (typeof want === 'number') return want;
  return typeof want === 'string' ? NON_FINITE[want.toLowerCase()] : undefined;
}

/** The case-level `i64AsStrings` must equal, exactly, the values of one of the expected 64-bit integer tensors. */
function checkI64Strings(parsed: SafetensorsFile, names: string[], strings: unknown): string[] {
  if (strings === undefined) return [];
  if (!Array.isArray(strings) || !strings.every((s) => typeof s === 'string' && /^[+-]?\d+$/.test(s))) {
    return ['i64AsStrings must be an array of integer strings'];
  }
  const matches = names.some((name) => {
    const entry = parsed.tensors.get(name);
    if (entry?.dtype !== 'I64' && entry?.dtype !== 'U64') return false;
    const got = [...decodeElements(entry)];
    return got.length === strings.length && got.every((g, i) => g === BigInt(strings[i]));
  });
  return matches
    ? []
    : [`no expected 64-bit integer tensor holds exactly i64AsStrings [${strings.join(', ')}]`];
}

function checkMetadata(parsed: SafetensorsFile, caseJson: SafetensorsCase): string[] {
  if (!('expectedMetadata' in caseJson)) return [];
  const want = caseJson.expectedMetadata ?? null;
  const got = parsed.metadata;
  if (want === null || got === null)
    return want === got ? [] : [`metadata ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`];
  const keys = new Set([...Object.keys(want), ...Object.keys(got)]);
  const bad = [...keys].filter(
    (k) => !Object.hasOwn(want, k) || !Object.hasOwn(got, k) || want[k] !== got[k],
  );
  return bad.length === 0 ? [] : [`metadata differs at keys ${bad.join(', ')}: got ${JSON.stringify(got)}`];
}

function checkOrder(parsed: SafetensorsFile, caseJson: SafetensorsCase): string[] {
  const want = caseJson.expectedHeaderOrder;
  if (want === undefined) return [];
  const got = [...parsed.tensors.keys()];
  return JSON.stringify(got) === JSON.stringify(want)
    ? []
    : [`data order ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`];
}

function readTolerance(value: SafetensorsCase['tolerance']): Tolerance | null {
  if (value === undefined || value === null) return null;
  return { atol: Number(value.atol ?? 0), rtol: Number(value.rtol ?? 0) };
}
