/**
 * Golden runner for group G (PEFT checkpoint directories on the tiny base model; see the golden
 * fixtures' README, "The tiny base model of group G").
 *
 * Everything is driven by the case's data, never by its name:
 * - The base model is built from `config.baseModel.modules` (`path → {type: 'Linear', in, out, bias}`)
 *   with the library's `Linear`; its forward is the README's: `h = x; for each layers.<i> (in index
 *   order): h = tanh(q_proj(h)) + v_proj(h); y = head(h)`. `base.safetensors` is loaded strictly.
 * - The adapter directory `config.peftDir` (default `peft`) is loaded with `loadPretrained` under
 *   `config.adapterName` (default `default`), in the mode `config.training` says (default eval).
 * - Checks, every one reported in `detail`:
 *   1. `config.resolvedModules` (r / alpha / scaling / feedforward, whichever are given) equal the
 *      wrapped modules the library resolved, and no other module is wrapped;
 *   2. `checkpointKeyToInMemoryKey`: every file key's tensor landed, bitwise, on the library state key
 *      that corresponds to PEFT's in-memory key (PEFT's `base_model.model.` prefix, `base_layer.` /
 *      `original_module.` levels and DoRA's `.weight` suffix on the magnitude do not exist in the
 *      library's keys, SPEC §4.1);
 *   3. `expected.output` (adapters active) and `expected.base_output` (inside `withAdaptersDisabled`);
 *   4. `savePretrained` of the loaded adapter reproduces `adapter_model.safetensors` byte for byte
 *      (written in the file's dtype) and `adapter_config.json` field for field (list-valued module
 *      fields compared as sets), passing the file's `peft_version` and `auto_mapping`, which PEFT
 *      derives from its own version and the Python class;
 *   5. after `mergeAndUnload()`, the state keys equal the `expected.merged.*` names and each value matches.
 *   Any other `expected.*` tensor fails the case (nothing is skipped silently).
 * - Pass when `|got − want| ≤ atol + rtol·|want|` elementwise with the case's `tolerance`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tf, type Tensor } from '../../src/backend/tf.js';
import type { PeftModel } from '../../src/adapters/tuners/peft-model.js';
import {
  PEFT_CONFIG_FILE,
  PEFT_WEIGHTS_FILE,
  peftFiles,
  type SavePretrainedOptions,
} from '../../src/io/peft.js';
import { loadPretrained } from '../../src/io/peft-model.js';
import '../../src/io/node-path-files.js'; // PEFT directories by path
import { parseSafetensors } from '../../src/io/safetensors.js';
import type { SafetensorsWriteDtype } from '../../src/io/safetensors-tf.js';
import { tensorsFromSafetensors } from '../../src/io/safetensors-tf.js';
import { Linear } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import { createRng, getRng, setRng } from '../../src/rng.js';
import type { CaseTensor } from './tensors.js';
import { readCaseTensors } from './tensors.js';

/** Outcome of one case. */
export interface GoldenResult {
  ok: boolean;
  detail: string;
}

class CaseFailure extends Error {}

function fail(message: string): never {
  throw new CaseFailure(message);
}

/** A plain container for the tiny model's module tree. */
class Container extends Module {
  static override readonly typeName: string = 'Container';
}

/** The README's tiny base model: `layers.<i>.{q_proj, v_proj}` blocks, then `head`. Children are looked up by name so wrappers take effect. */
class TinyPeftBase extends Module {
  static override readonly typeName: string = 'TinyMLP';
  override forward(x: Tensor): Tensor {
    return tf.tidy(() => {
      let h = x;
      const layers = this.getChild('layers');
      const blocks = layers ? layers.namedChildren().sort(([a], [b]) => Number(a) - Number(b)) : [];
      for (const [, block] of blocks) {
        const q = block.getChild('q_proj');
        const v = block.getChild('v_proj');
        if (!q || !v) fail('each layers.<i> block must hold q_proj and v_proj');
        h = tf.add(tf.tanh(q.forward(h) as Tensor), v.forward(h) as Tensor);
      }
      const head = this.getChild('head');
      if (!head) fail('the base model has no head');
      return head.forward(h) as Tensor;
    });
  }
}

/** One module of `config.baseModel.modules`. */
export interface ModuleSpec {
  type?: unknown;
  in?: unknown;
  out?: unknown;
  bias?: unknown;
}

/**
 * Builds the README's tiny base model from `config.baseModel.modules` (`path → {type: 'Linear', in, out, bias}`),
 * with freshly initialised weights (load `base.safetensors` into it).
 */
export function buildGroupGBase(modules: Record<string, ModuleSpec>): Module {
  const root = new TinyPeftBase();
  for (const [path, spec] of Object.entries(modules)) {
    if (spec.type !== 'Linear')
      fail(
        `module '${path}': type ${JSON.stringify(spec.type)} is not supported by the tiny base model (Linear only)`,
      );
    const inF = Number(spec.in);
    const outF = Number(spec.out);
    if (!Number.isInteger(inF) || !Number.isInteger(outF)) fail(`module '${path}': in/out must be integers`);
    const parts = path.split('.');
    let parent: Module = root;
    for (const p of parts.slice(0, -1))
      parent = parent.getChild(p) ?? parent.registerModule(p, new Container());
    parent.registerModule(
      parts[parts.length - 1]!,
      new Linear({ inFeatures: inF, outFeatures: outF, bias: spec.bias !== false }),
    );
  }
  return root;
}

/** One check's outcome, as a line of the case's detail. */
export interface Comparison {
  ok: boolean;
  text: string;
}

/**
 * What a group built on G's directories (V: VeRA) adds: checks run after the outputs and before the
 * merge, on the loaded adapter. Returns the names of the expected tensors it compared.
 */
export type PeftCaseExtension = (ctx: {
  peft: PeftModel;
  adapterName: string;
  config: Record<string, unknown>;
  expected: Map<string, CaseTensor>;
  atol: number;
  rtol: number;
  record: (c: Comparison) => void;
}) => string[];

/** Compares values of shape `gotShape` with an expected tensor: `|got − want| ≤ atol + rtol·|want|`. */
export function compareValues(
  name: string,
  gotShape: readonly number[],
  got: ArrayLike<number>,
  want: CaseTensor,
  atol: number,
  rtol: number,
): Comparison {
  if (gotShape.length !== want.shape.length || gotShape.some((d, i) => d !== want.shape[i])) {
    return { ok: false, text: `${name}: shape [${gotShape.join(', ')}], want [${want.shape.join(', ')}]` };
  }
  let maxDiff = 0;
  let bad = 0;
  let first = -1;
  for (let i = 0; i < got.length; i++) {
    const w = want.data[i]!;
    const d = Math.abs(got[i]! - w);
    if (!(d <= maxDiff)) maxDiff = Number.isNaN(d) ? Infinity : Math.max(maxDiff, d);
    if (!(d <= atol + rtol * Math.abs(w))) {
      bad++;
      if (first < 0) first = i;
    }
  }
  const ok = bad === 0;
  return {
    ok,
    text: ok
      ? `${name}: ok (max |diff| ${maxDiff.toExponential(2)})`
      : `${name}: ${bad} element(s) out of tolerance, first at ${first} (got ${got[first]}, want ${want.data[first]})`,
  };
}

function compareTensor(name: string, got: Tensor, want: CaseTensor, atol: number, rtol: number): Comparison {
  return compareValues(name, got.shape, got.dataSync() as Float32Array, want, atol, rtol);
}

/** PEFT's in-memory state key → the library's state key for the same tensor (SPEC §4.1). */
function libraryKeyFor(inMemoryKey: string): string {
  let k = inMemoryKey.startsWith('base_model.model.')
    ? inMemoryKey.slice('base_model.model.'.length)
    : inMemoryKey;
  k = k.replace(/(^|\.)(?:base_layer|original_module)\./g, '$1');
  k = k.replace(/(lora_magnitude_vector\.[^.]+)\.weight$/, '$1');
  return k;
}

const SET_VALUED = new Set(['target_modules', 'exclude_modules', 'modules_to_save', 'feedforward_modules']);

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function compareConfigs(got: Record<string, unknown>, want: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const keys = new Set([...Object.keys(got), ...Object.keys(want)]);
  for (const k of [...keys].sort()) {
    if (!(k in got)) {
      problems.push(`missing key ${k}`);
      continue;
    }
    if (!(k in want)) {
      problems.push(`extra key ${k}`);
      continue;
    }
    let g = got[k];
    let w = want[k];
    if (SET_VALUED.has(k) && Array.isArray(g) && Array.isArray(w)) {
      g = [...new Set(g.map(canonical))].sort();
      w = [...new Set(w.map(canonical))].sort();
    }
    if (canonical(g) !== canonical(w))
      problems.push(`${k}: got ${JSON.stringify(got[k])}, want ${JSON.stringify(want[k])}`);
  }
  return problems;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** The single float dtype of a PEFT tensor file, as a `savePretrained` dtype. */
function fileDtype(bytes: Uint8Array, source: string): SafetensorsWriteDtype {
  const dtypes = new Set([...parseSafetensors(bytes, source).tensors.values()].map((e) => e.dtype));
  const map: Record<string, SafetensorsWriteDtype> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
  const list = [...dtypes];
  if (list.length > 1 || (list.length === 1 && !map[list[0]!]))
    fail(
      `${source}: dtypes ${list.join(', ')} cannot be re-written by savePretrained (one of F32, F16, BF16)`,
    );
  return map[list[0] ?? 'F32']!;
}

/** A group G `case.json`, as the runner reads it; each field is checked where it is used. */
export interface PeftCase {
  name?: unknown;
  group?: unknown;
  config?: {
    baseModel?: { modules?: unknown };
    adapterName?: unknown;
    peftDir?: unknown;
    training?: unknown;
    resolvedModules?: Record<string, Record<string, unknown>>;
  };
  tolerance?: { atol?: unknown; rtol?: unknown } | null;
  checkpointKeyToInMemoryKey?: Record<string, string>;
}

/**
 * Runs one group-G case (see the module comment).
 *
 * @param dir - The case folder.
 * @param caseJson - The parsed `case.json`.
 * @param extension - Checks of a group built on G's directories (see {@link PeftCaseExtension}).
 */
export async function runPeftCase(
  dir: string,
  caseJson: PeftCase,
  extension?: PeftCaseExtension,
): Promise<GoldenResult> {
  const before = tf.memory().numTensors;
  const prevRng = getRng();
  setRng(createRng(0));
  const lines: string[] = [];
  let ok = true;
  const record = (c: Comparison) => {
    lines.push(c.text);
    ok &&= c.ok;
  };
  const owned: Array<{ dispose(): void }> = [];
  try {
    const config = caseJson?.config ?? {};
    const atol = Number(caseJson?.tolerance?.atol ?? 0);
    const rtol = Number(caseJson?.tolerance?.rtol ?? 0);
    const modules = config.baseModel?.modules;
    if (!modules || typeof modules !== 'object') fail('config.baseModel.modules is missing');
    const adapterName = typeof config.adapterName === 'string' ? config.adapterName : 'default';
    const peftDir = join(dir, typeof config.peftDir === 'string' ? config.peftDir : 'peft');
    const expected = await readCaseTensors(join(dir, 'tensors.safetensors'));
    const input = expected.get('input');
    if (!input) fail("tensors.safetensors has no 'input'");
    const handled = new Set<string>(['input']);

    // Base model.
    const base = buildGroupGBase(modules as Record<string, ModuleSpec>);
    owned.push(base);
    const baseFile = join(dir, 'base.safetensors');
    const baseTensors = tensorsFromSafetensors(new Uint8Array(await readFile(baseFile)), baseFile);
    try {
      base.loadStateDict(baseTensors, { strict: true });
    } finally {
      for (const t of baseTensors.values()) t.dispose();
    }

    // The PEFT directory.
    const peft: PeftModel = await loadPretrained(base, peftDir, { adapterName });
    peft.train(config.training === true);

    // 1. resolved modules
    const wrapped = new Map(peft.wrappedModulesFor(adapterName).map((m) => [m.path, m]));
    const resolved = config.resolvedModules ?? {};
    for (const [path, want] of Object.entries(resolved)) {
      const got = wrapped.get(path);
      if (!got) {
        record({
          ok: false,
          text: `resolvedModules: '${path}' is not wrapped (wrapped: ${[...wrapped.keys()].join(', ')})`,
        });
        continue;
      }
      const diffs = (['r', 'alpha', 'scaling', 'feedforward'] as const)
        .filter((f) => f in want && want[f] !== null && want[f] !== undefined)
        .filter((f) =>
          f === 'scaling' ? Math.abs(Number(got[f]) - Number(want[f])) > 1e-12 : got[f] !== want[f],
        )
        .map((f) => `${f} ${String(got[f])} (want ${String(want[f])})`);
      record({
        ok: diffs.length === 0,
        text: `resolvedModules '${path}': ${diffs.length ? diffs.join(', ') : 'ok'}`,
      });
    }
    if (Object.keys(resolved).length) {
      const extra = [...wrapped.keys()].filter((p) => !(p in resolved));
      if (extra.length)
        record({ ok: false, text: `wrapped but not in resolvedModules: ${extra.join(', ')}` });
    }

    // 2. where each file tensor landed
    const mapping = caseJson?.checkpointKeyToInMemoryKey ?? {};
    if (Object.keys(mapping).length) {
      const weightsPath = join(peftDir, PEFT_WEIGHTS_FILE);
      const fileTensors = await readCaseTensors(weightsPath);
      const state = peft.stateDict();
      const problems: string[] = [];
      for (const [fileKey, memKey] of Object.entries(mapping)) {
        const want = fileTensors.get(fileKey);
        const libKey = libraryKeyFor(memKey);
        const got = state.get(libKey);
        if (!want) problems.push(`${fileKey} is not in ${PEFT_WEIGHTS_FILE}`);
        else if (!got) problems.push(`${memKey} → library key '${libKey}' does not exist`);
        else {
          const c = compareValues(libKey, got.shape, got.dataSync() as Float32Array, want, 0, 0);
          if (!c.ok) problems.push(c.text);
        }
      }
      record({
        ok: problems.length === 0,
        text: `checkpointKeyToInMemoryKey: ${problems.length ? problems.join('; ') : `${Object.keys(mapping).length} tensor(s) in place`}`,
      });
    }

    // 3. outputs
    const x = tf.tensor(input.data, input.shape, 'float32');
    owned.push(x);
    const wantOut = expected.get('expected.output');
    if (wantOut) {
      const y = peft.forward(x) as Tensor;
      record(compareTensor('expected.output', y, wantOut, atol, rtol));
      y.dispose();
      handled.add('expected.output');
    }
    const wantBase = expected.get('expected.base_output');
    if (wantBase) {
      const y = peft.withAdaptersDisabled(() => peft.forward(x) as Tensor);
      record(compareTensor('expected.base_output', y, wantBase, atol, rtol));
      y.dispose();
      handled.add('expected.base_output');
    }

    if (extension) {
      for (const n of extension({
        peft,
        adapterName,
        config: config as Record<string, unknown>,
        expected,
        atol,
        rtol,
        record,
      }))
        handled.add(n);
    }

    // 4. re-writing the directory
    const fileConfig = JSON.parse(await readFile(join(peftDir, PEFT_CONFIG_FILE), 'utf8')) as Record<
      string,
      unknown
    >;
    const fileWeights = new Uint8Array(await readFile(join(peftDir, PEFT_WEIGHTS_FILE)));
    const am = fileConfig.auto_mapping as
      { base_model_class?: unknown; parent_library?: unknown } | null | undefined;
    const opts: SavePretrainedOptions = {
      selectedAdapters: [adapterName],
      dtype: fileDtype(fileWeights, join(peftDir, PEFT_WEIGHTS_FILE)),
      autoMapping:
        am && typeof am.base_model_class === 'string' && typeof am.parent_library === 'string'
          ? { baseModelClass: am.base_model_class, parentLibrary: am.parent_library }
          : null,
    };
    if (typeof fileConfig.peft_version === 'string') opts.peftVersion = fileConfig.peft_version;
    const files = peftFiles(peft, opts);
    const prefix = adapterName === 'default' ? '' : `${adapterName}/`;
    const written = files.get(`${prefix}${PEFT_WEIGHTS_FILE}`) as Uint8Array;
    const at = firstDifference(written, fileWeights);
    record({
      ok: at < 0,
      text: `savePretrained ${PEFT_WEIGHTS_FILE}: ${at < 0 ? `byte-identical (${written.length} bytes)` : `differs at byte ${at} (${written.length} vs ${fileWeights.length} bytes)`}`,
    });
    const writtenConfig = JSON.parse(files.get(`${prefix}${PEFT_CONFIG_FILE}`) as string) as Record<
      string,
      unknown
    >;
    const cfgProblems = compareConfigs(writtenConfig, fileConfig);
    record({
      ok: cfgProblems.length === 0,
      text: `savePretrained ${PEFT_CONFIG_FILE}: ${cfgProblems.length ? cfgProblems.join('; ') : `${Object.keys(fileConfig).length} keys equal`}`,
    });

    // 5. merge and unload
    const mergedWant = [...expected.keys()].filter((k) => k.startsWith('expected.merged.'));
    if (mergedWant.length) {
      const merged = peft.mergeAndUnload();
      const state = merged.stateDict();
      const wantKeys = mergedWant.map((k) => k.slice('expected.merged.'.length)).sort();
      const gotKeys = [...state.keys()].sort();
      const missing = wantKeys.filter((k) => !state.has(k));
      const extra = gotKeys.filter((k) => !wantKeys.includes(k));
      if (missing.length || extra.length) {
        record({
          ok: false,
          text: `merged state keys: missing ${missing.join(', ') || '-'}; unexpected ${extra.join(', ') || '-'}`,
        });
      }
      for (const k of wantKeys) {
        const got = state.get(k);
        if (got)
          record(
            compareTensor(`expected.merged.${k}`, got, expected.get(`expected.merged.${k}`)!, atol, rtol),
          );
        handled.add(`expected.merged.${k}`);
      }
    }
    peft.dispose();

    const unhandled = [...expected.keys()].filter((k) => !handled.has(k));
    if (unhandled.length)
      record({
        ok: false,
        text: `expected tensors this runner does not know how to compute: ${unhandled.join(', ')}`,
      });
  } catch (e) {
    if (e instanceof CaseFailure) return { ok: false, detail: e.message };
    return { ok: false, detail: `error: ${(e as Error).message}` };
  } finally {
    for (const o of owned) o.dispose();
    setRng(prevRng);
  }
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) {
    lines.push(`tensor count changed by ${leaked} over the case`);
    ok = false;
  }
  return { ok, detail: lines.join('\n') };
}
