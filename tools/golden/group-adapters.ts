/**
 * Golden runner for groups A–F (adapter networks and strategies; see the golden fixtures' README).
 *
 * Everything is driven by the case's data, never by its name:
 * - `config.adapters` (a list) builds several adapters on one host in `config.order` (group C);
 *   otherwise `config` itself describes one adapter. `adapterType` is a NeMo class name
 *   (`LinearAdapter`, `MultiHeadAttentionAdapter`, …) or a library type name; the adapter's options are
 *   the config keys its schema declares (`usePytorchSdpa` is read as `useFusedAttention`); `strategy`
 *   (`ResidualAdd`, `MHAResidualAdd`, `ReturnResult`, or library names) becomes `adapterStrategy`.
 *   Keys the runner cannot honour (`layerNormEps` ≠ 1e-5, `maskValue` ≠ −10000, `residualBase` other
 *   than the value input) fail the case; `dK` / `effectiveProjDim` are checked against the built adapter.
 * - The adapters sit on a tiny host whose forward is `forwardEnabledAdapters(x)`.
 * - `param` tensors are mapped to state-dict keys through `paramDocs` (or the tensor's `doc`): a
 *   `module.N.weight|bias` key written there wins; "same name" keeps the fixture name; for `linear`
 *   adapters `norm.*`/`down.weight`/`up.weight` fall back to the `normPosition` layout. Chained cases
 *   prefix names with the adapter name. Everything is loaded with a strict `loadStateDict`.
 * - `input` tensors: a single tensor named `input` or `x` is passed as is; otherwise the inputs form one
 *   named-argument object with camelCase keys (`pos_emb` → `posEmb`), BOOL tensors as booleans.
 * - `expected.<what>`, by the README's naming rules ({@link parseExpectedName}): `adapter_output` (the
 *   single adapter's forward), `output` / `residual_output` (the host's output), `after_<adapter>` (the
 *   running output after that adapter, enabled ones in insertion order), `kept_output` /
 *   `dropped_output` (training with the stochastic-depth draw forced to 0 (kept) or just below 1
 *   (dropped), as the rule `u < 1 − p` → kept reads), `eval_output` (eval mode), `l2_loss` (the one
 *   `adapter_loss` the main forward registered, read from the adapters' registries), `l2_loss.<adapter>`
 *   (that adapter's), `l2_loss.total` (their sum), `l2_loss_kept` / `l2_loss_dropped` (the loss of a
 *   training forward with the draw forced kept / dropped). A 0-d expectation needs exactly one value;
 *   `[n]` takes the list in order. Main runs use `config.training`. Anything else fails the case, naming it.
 * - Pass when `|got − want| ≤ atol + rtol·|want|` elementwise (`exact: true` → atol = rtol = 0), shapes
 *   equal. With `exact` or `config.initRule`, every parameter the fixture holds as a constant tensor
 *   (zeros, ones) must also be reproduced by the library's own initialisation.
 */
import { tf, type Tensor } from '../../src/backend/tf.js';
import '../../src/adapters/builtins.js';
import { resetRegistry } from '../../src/adapters/access.js';
import type { AdapterModule } from '../../src/adapters/adapter-module.js';
import { withAdapters } from '../../src/adapters/host.js';
import { nemoClassNameToType } from '../../src/adapters/nemo-config.js';
import {
  getAdapterTypeSchema,
  getStrategyTypeSchema,
  listAdapterTypes,
  listStrategyTypes,
} from '../../src/adapters/registry.js';
import type { AdapterConfig, AdapterInput, StrategyConfig } from '../../src/adapters/types.js';
import { Module } from '../../src/nn/module.js';
import { createRng, type Rng } from '../../src/rng.js';

/** One decoded fixture tensor. `dtype` is the safetensors dtype (`F32`, `BOOL`, `I64`, …). */
export interface FixtureTensor {
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
  dtype: string;
}

/** Outcome of one case: `detail` lists every comparison (or the reason for failing). */
export interface GoldenResult {
  ok: boolean;
  detail: string;
}

const GROUPS = new Set(['A', 'B', 'C', 'D', 'E', 'F']);
/** LayerNorm epsilon of every built-in adapter. */
const LIBRARY_LAYER_NORM_EPS = 1e-5;
/** Masked-score value of the conformer attention adapters. */
const LIBRARY_MASK_VALUE = -10000;
/** Case-config keys that are option aliases: case key → library option. */
const OPTION_ALIASES: Readonly<Record<string, string>> = { usePytorchSdpa: 'useFusedAttention' };
/** Case-config keys the runner handles itself (not adapter options). */
const RUNNER_KEYS = new Set([
  'adapterType',
  'enabled',
  'type',
  'strategy',
  'training',
  'paramDocs',
  'name',
  'layerNormEps',
  'maskValue',
  'dK',
  'effectiveProjDim',
]);
/** Draws that force the stochastic-depth outcome (`u < keep` → kept). */
const KEPT_DRAW = 0;
const DROPPED_DRAW = 1 - 2 ** -30;

class CaseFailure extends Error {}

function fail(message: string): never {
  throw new CaseFailure(message);
}

/** The host all adapters of a case sit on: `forward(x) = forwardEnabledAdapters(x)`. */
class GoldenHost extends withAdapters(Module) {
  static override readonly typeName: string = 'GoldenAdapterHost';
  override forward(x: AdapterInput): AdapterInput {
    return this.forwardEnabledAdapters(x);
  }
}

/** An RNG whose draws can be pinned (`pinned !== null`) or come from a seeded generator. */
class PinnableRng implements Rng {
  pinned: number | null = null;
  private readonly base = createRng(0);
  next(): number {
    return this.pinned ?? this.base.next();
  }
}

function snakeToCamel(s: string): string {
  return s.replace(/_+([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function resolveAdapterType(name: unknown, where: string): string {
  if (typeof name !== 'string') fail(`${where}: adapterType must be a string, got ${JSON.stringify(name)}`);
  if (listAdapterTypes().includes(name)) return name;
  const entry = nemoClassNameToType(name);
  if (entry?.kind === 'adapter') return entry.type;
  return fail(
    `${where}: unknown component '${name}'; known: ${listAdapterTypes().join(', ')} (or their NeMo class names)`,
  );
}

function resolveStrategyType(name: unknown, where: string): string {
  if (typeof name !== 'string') fail(`${where}: strategy.type must be a string, got ${JSON.stringify(name)}`);
  if (listStrategyTypes().includes(name)) return name;
  const bare = name.replace(/AdapterStrategy$/, '');
  const table: Record<string, string> = {
    ResidualAdd: 'residualAdd',
    MHAResidualAdd: 'mhaResidualAdd',
    ReturnResult: 'returnResult',
  };
  if (table[bare]) return table[bare]!;
  const entry = nemoClassNameToType(name);
  if (entry?.kind === 'strategy') return entry.type;
  return fail(`${where}: unknown strategy '${name}'; known: ${listStrategyTypes().join(', ')}`);
}

function strategyFrom(raw: unknown, where: string, ignored: string[]): StrategyConfig | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail(`${where}: strategy must be an object`);
  const s = raw as Record<string, unknown>;
  const type = resolveStrategyType(s.type, where);
  const fields = getStrategyTypeSchema(type).fields;
  const out: StrategyConfig = { type };
  for (const [k, v] of Object.entries(s)) {
    if (k === 'type') continue;
    if (k === 'residualBase') {
      if (type !== 'mhaResidualAdd' || (v !== 'value' && v !== 'values')) {
        fail(
          `${where}: residualBase ${JSON.stringify(v)} with strategy ${type} is not supported (mhaResidualAdd adds to value/values)`,
        );
      }
      continue;
    }
    if (k in fields) out[k] = v;
    else ignored.push(`${where}.${k}`);
  }
  return out;
}

export interface AdapterPlan {
  name: string;
  cfg: AdapterConfig;
  entry: Record<string, unknown>;
}

export function planAdapter(entry: Record<string, unknown>, name: string, ignored: string[]): AdapterPlan {
  const where = `adapter '${name}'`;
  const type = resolveAdapterType(entry.adapterType ?? entry.type, where);
  const fields = getAdapterTypeSchema(type).fields;
  const cfg: AdapterConfig = { type };
  for (const [k, v] of Object.entries(entry)) {
    const option = OPTION_ALIASES[k] ?? k;
    if (option in fields && option !== 'type' && option !== 'adapterStrategy') {
      cfg[option] = v;
    } else if (!RUNNER_KEYS.has(k)) {
      ignored.push(`${where}.${k}`);
    }
  }
  if (entry.layerNormEps !== undefined && entry.layerNormEps !== LIBRARY_LAYER_NORM_EPS) {
    fail(
      `${where}: layerNormEps ${String(entry.layerNormEps)} differs from the library's ${LIBRARY_LAYER_NORM_EPS}`,
    );
  }
  if (entry.maskValue !== undefined && entry.maskValue !== LIBRARY_MASK_VALUE) {
    fail(`${where}: maskValue ${String(entry.maskValue)} differs from the library's ${LIBRARY_MASK_VALUE}`);
  }
  const strategy = strategyFrom(entry.strategy, `${where}.strategy`, ignored);
  if (strategy) cfg.adapterStrategy = strategy;
  if (entry.enabled !== undefined) {
    if (typeof entry.enabled !== 'boolean')
      fail(`${where}: enabled must be true or false, got ${JSON.stringify(entry.enabled)}`);
    cfg.enabled = entry.enabled;
  }
  return { name, cfg, entry };
}

/** `module.N.weight`-style key from a parameter's documentation, if it names one. */
function documentedKey(doc: unknown): string | undefined {
  if (typeof doc !== 'string') return undefined;
  return /\b(module\.\d+\.(?:weight|bias))\b/.exec(doc)?.[1];
}

/** State-dict key of fixture parameter `local` of an adapter. */
export function stateKeyFor(local: string, doc: unknown, plan: AdapterPlan): string {
  const paramDocs = plan.entry.paramDocs as Record<string, unknown> | undefined;
  const text = paramDocs?.[local] ?? doc;
  const key = documentedKey(text);
  if (key) return key;
  if (typeof text === 'string' && /same name/i.test(text)) return local;
  if (plan.cfg.type === 'linear') {
    const pre = (plan.cfg.normPosition ?? 'pre') === 'pre';
    const layout: Record<string, string> = pre
      ? {
          'norm.weight': 'module.0.weight',
          'norm.bias': 'module.0.bias',
          'down.weight': 'module.1.weight',
          'up.weight': 'module.3.weight',
        }
      : {
          'down.weight': 'module.0.weight',
          'up.weight': 'module.2.weight',
          'norm.weight': 'module.3.weight',
          'norm.bias': 'module.3.bias',
        };
    if (layout[local]) return layout[local]!;
  }
  return local;
}

export function toTensor(t: FixtureTensor, name: string): Tensor {
  const size = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== size)
    fail(`tensor '${name}': ${t.data.length} values for shape [${t.shape.join(', ')}]`);
  switch (t.dtype) {
    case 'BOOL':
    case 'bool':
      return tf.tensor(
        Uint8Array.from(t.data, (v) => (v ? 1 : 0)),
        t.shape,
        'bool',
      );
    case 'F32':
    case 'F16':
    case 'BF16':
    case 'F64':
    case 'float32':
      return tf.tensor(Float32Array.from(t.data), t.shape, 'float32');
    default:
      if (/^[IU]\d+$/.test(t.dtype) || t.dtype === 'int32')
        return tf.tensor(Int32Array.from(t.data), t.shape, 'int32');
      return fail(`tensor '${name}': unsupported dtype ${t.dtype}`);
  }
}

function isConstant(data: ArrayLike<number>): boolean {
  for (let i = 1; i < data.length; i++) if (!Object.is(data[i], data[0])) return false;
  return data.length > 0;
}

interface Comparison {
  ok: boolean;
  line: string;
}

export function compare(
  name: string,
  got: Tensor,
  want: FixtureTensor,
  atol: number,
  rtol: number,
): Comparison {
  const sameShape = got.shape.length === want.shape.length && got.shape.every((d, i) => d === want.shape[i]);
  if (!sameShape) {
    return {
      ok: false,
      line: `${name}: shape [${got.shape.join(', ')}] ≠ expected [${want.shape.join(', ')}]`,
    };
  }
  const g = got.dataSync();
  let worst = 0;
  let bad = 0;
  let firstBad = -1;
  for (let i = 0; i < g.length; i++) {
    const w = Number(want.data[i]);
    const d = Math.abs(Number(g[i]) - w);
    if (!(d <= atol + rtol * Math.abs(w))) {
      bad++;
      if (firstBad < 0) firstBad = i;
    }
    if (d > worst || Number.isNaN(d)) worst = Number.isNaN(d) ? NaN : d;
  }
  const ok = bad === 0;
  const where = ok
    ? ''
    : `, ${bad} element(s) out of tolerance, first at ${firstBad} (got ${g[firstBad]}, want ${want.data[firstBad]})`;
  return { ok, line: `${name}: max |Δ| = ${worst}${where}` };
}

/** What an expected tensor holds, by the naming rules of the golden README (groups A–F). */
export type ExpectedRule =
  | { kind: 'output' | 'adapter_output' | 'kept_output' | 'dropped_output' | 'eval_output' }
  | { kind: 'after'; adapter: string }
  /** An auxiliary loss: of the main forward or of a forced stochastic-depth draw; one, per adapter, or summed. */
  | { kind: 'loss'; draw: 'kept' | 'dropped' | null; scope: 'one' | 'total' | string };

/**
 * Reads `<what>` of `expected.<what>` by the README's rules: `output` / `residual_output`,
 * `adapter_output`, `after_<adapter>`, `kept_output` / `dropped_output` / `eval_output`, `l2_loss`,
 * `l2_loss.<adapter>`, `l2_loss.total`, `l2_loss_kept` / `l2_loss_dropped`. Anything else (or an adapter
 * the case does not define) fails the case, naming it.
 */
export function parseExpectedName(what: string, adapterNames: readonly string[]): ExpectedRule {
  const adapter = (name: string): string => {
    if (!adapterNames.includes(name))
      fail(
        `expected tensor '${what}' names adapter '${name}', which the case does not define (adapters: ${adapterNames.join(', ')})`,
      );
    return name;
  };
  if (what === 'output' || what === 'residual_output') return { kind: 'output' };
  if (
    what === 'adapter_output' ||
    what === 'kept_output' ||
    what === 'dropped_output' ||
    what === 'eval_output'
  )
    return { kind: what };
  if (what.startsWith('after_')) return { kind: 'after', adapter: adapter(what.slice('after_'.length)) };
  if (what === 'l2_loss') return { kind: 'loss', draw: null, scope: 'one' };
  if (what === 'l2_loss_kept') return { kind: 'loss', draw: 'kept', scope: 'one' };
  if (what === 'l2_loss_dropped') return { kind: 'loss', draw: 'dropped', scope: 'one' };
  if (what === 'l2_loss.total') return { kind: 'loss', draw: null, scope: 'total' };
  if (what.startsWith('l2_loss.'))
    return { kind: 'loss', draw: null, scope: adapter(what.slice('l2_loss.'.length)) };
  return fail(
    `don't know how to compute expected tensor '${what}'; the naming rules allow output, residual_output, adapter_output, after_<adapter>, kept_output, dropped_output, eval_output, l2_loss, l2_loss.<adapter>, l2_loss.total, l2_loss_kept, l2_loss_dropped`,
  );
}

/** An adapter-group (A–F) `case.json`, as the runner reads it; each field is checked where it is used. */
export interface AdapterCase {
  name?: unknown;
  group?: unknown;
  config?: Record<string, unknown> | null;
  exact?: unknown;
  tolerance?: { atol?: unknown; rtol?: unknown } | null;
  tensors?: Array<{ name: string; role: string; doc?: string }>;
}

/**
 * Runs one group A–F case.
 *
 * @param caseDir - The case folder (used in messages only; tensors come decoded in `tensors`).
 * @param caseJson - The parsed `case.json`.
 * @param tensors - Every tensor of the case's safetensors file, by name.
 * @returns `ok` and a detail line per comparison, or the reason the case cannot run.
 * @example
 * ```ts
 * const { ok, detail } = await runAdapterCase(dir, caseJson, tensors);
 * ```
 */
export async function runAdapterCase(
  caseDir: string,
  caseJson: AdapterCase,
  tensors: Map<string, FixtureTensor>,
): Promise<GoldenResult> {
  const created: Tensor[] = [];
  let host: GoldenHost | undefined;
  const createHost = (): GoldenHost => (host = new GoldenHost());
  const label = `${caseJson?.name ?? caseDir}`;
  try {
    const group = String(caseJson?.group ?? '').toUpperCase();
    if (!GROUPS.has(group)) fail(`group ${JSON.stringify(caseJson?.group)} is not an adapter group (A–F)`);
    const config = caseJson.config;
    if (!config || typeof config !== 'object') fail('case has no config object');
    const ignored: string[] = [];

    // Plan the adapters.
    const plans: AdapterPlan[] = [];
    if (Array.isArray(config.adapters)) {
      const entries = config.adapters as Record<string, unknown>[];
      const byName = new Map(entries.map((e, i) => [String(e.name ?? `adapter_${i}`), e]));
      const order: string[] = Array.isArray(config.order) ? config.order.map(String) : [...byName.keys()];
      for (const n of order) {
        const e = byName.get(n);
        if (!e) fail(`config.order names '${n}', which config.adapters does not define`);
        plans.push(planAdapter(e, n, ignored));
      }
      for (const n of byName.keys())
        if (!order.includes(n)) fail(`adapter '${n}' is missing from config.order`);
    } else {
      plans.push(planAdapter(config, typeof config.name === 'string' ? config.name : 'adapter_0', ignored));
    }
    const training = Boolean(config.training ?? plans[0]!.entry.training ?? false);
    const chained = Array.isArray(config.adapters);
    const exact = caseJson.exact === true;
    const checkInit = exact || config.initRule !== undefined;
    const tol = exact
      ? { atol: 0, rtol: 0 }
      : { atol: Number(caseJson.tolerance?.atol ?? 0), rtol: Number(caseJson.tolerance?.rtol ?? 0) };

    // The tensors the case declares.
    const declared = caseJson.tensors ?? [];
    for (const d of declared)
      if (!tensors.has(d.name)) fail(`tensor '${d.name}' is declared but not in the file`);
    const params = declared.filter((d) => d.role === 'param');
    const inputs = declared.filter((d) => d.role === 'input');
    const expected = declared.filter((d) => d.role === 'expected');
    const unknownRoles = declared.filter((d) => !['param', 'input', 'expected'].includes(d.role));
    if (unknownRoles.length)
      fail(`unknown tensor role(s): ${unknownRoles.map((d) => `${d.name} (${d.role})`).join(', ')}`);
    if (expected.length === 0) fail('the case has no expected tensors');

    // Everything below runs in one tf.tidy scope: intermediate tensors (and any a constructor leaves
    // behind) are freed; variables and registry entries are freed in `finally`.
    let result: GoldenResult | undefined;
    tf.tidy(() => {
      // Build the host and adapters.
      const rng = new PinnableRng();
      const h = createHost();
      for (const p of plans) h.addAdapter(p.name, p.cfg, { rng });
      const adapters = plans.map((p) => h.getAdapterModule(p.name) as AdapterModule);

      // Parameters → state dicts.
      const stateDicts = plans.map(() => new Map<string, Tensor>());
      for (const d of params) {
        let idx = 0;
        let local = d.name;
        if (chained) {
          idx = plans.findIndex((p) => d.name.startsWith(`${p.name}.`));
          if (idx < 0)
            fail(
              `parameter '${d.name}' does not start with an adapter name (${plans.map((p) => p.name).join(', ')})`,
            );
          local = d.name.slice(plans[idx]!.name.length + 1);
        }
        const key = stateKeyFor(local, d.doc, plans[idx]!);
        const t = toTensor(tensors.get(d.name)!, d.name);
        created.push(t);
        if (stateDicts[idx]!.has(key))
          fail(`parameters map to the same state key '${key}' of '${plans[idx]!.name}'`);
        stateDicts[idx]!.set(key, t);
        if (checkInit) {
          const fixture = tensors.get(d.name)!.data;
          const own = adapters[idx]!.stateDict().get(key);
          if (own && isConstant(fixture)) {
            const mine = own.dataSync();
            if (
              mine.length !== fixture.length ||
              !isConstant(mine) ||
              !Object.is(mine[0], Number(fixture[0]))
            ) {
              fail(
                `own initialisation of '${d.name}' (${key}) does not reproduce the fixture's constant value ${fixture[0]}`,
              );
            }
          }
        }
      }
      plans.forEach((p, i) => {
        try {
          adapters[i]!.loadStateDict(stateDicts[i]!);
        } catch (e) {
          fail(`loading parameters into '${p.name}': ${(e as Error).message}`);
        }
      });

      // Structural checks the case states.
      plans.forEach((p, i) => {
        const a = adapters[i] as unknown as { dk?: number; projDim?: number };
        if (p.entry.dK !== undefined && p.entry.dK !== null && a.dk !== p.entry.dK) {
          fail(`'${p.name}': head size ${a.dk} ≠ the case's dK ${String(p.entry.dK)}`);
        }
        if (
          p.entry.effectiveProjDim !== undefined &&
          p.entry.effectiveProjDim !== null &&
          a.projDim !== p.entry.effectiveProjDim
        ) {
          fail(
            `'${p.name}': projected width ${a.projDim} ≠ the case's effectiveProjDim ${String(p.entry.effectiveProjDim)}`,
          );
        }
      });

      // Inputs.
      let input: AdapterInput;
      if (inputs.length === 0) fail('the case has no input tensors');
      if (inputs.length === 1 && (inputs[0]!.name === 'input' || inputs[0]!.name === 'x')) {
        input = toTensor(tensors.get(inputs[0]!.name)!, inputs[0]!.name);
        created.push(input);
      } else {
        const named: Record<string, Tensor> = {};
        for (const d of inputs) {
          const t = toTensor(tensors.get(d.name)!, d.name);
          created.push(t);
          named[snakeToCamel(d.name)] = t;
        }
        input = named;
      }

      const keep = (t: AdapterInput): Tensor => {
        if (!(t instanceof tf.Tensor))
          fail(`the forward returned ${Array.isArray(t) ? 'an array' : 'an object'}, not a tensor`);
        created.push(t);
        return t;
      };
      const run = (mode: boolean, draw: number | null, names?: string[]): Tensor => {
        h.train(mode);
        rng.pinned = draw;
        try {
          return keep(names ? h.forwardAdapterChain(input, names) : h.forward(input));
        } finally {
          rng.pinned = null;
        }
      };

      // Main run (configured mode): its output and the auxiliary losses it registers, per adapter.
      // Losses are cloned out of the registries, which later runs reset.
      const lossesOf = (): Map<string, Tensor[]> =>
        new Map(
          plans.map((p, i) => [
            p.name,
            (adapters[i]!.registry['adapter_loss'] ?? []).map((t) => keep(t.clone())),
          ]),
        );
      resetRegistry(h);
      const mainOutput = run(training, null);
      const mainLosses = lossesOf();
      resetRegistry(h);
      const drawLosses = (draw: number): Map<string, Tensor[]> => {
        resetRegistry(h); // other runs since may have registered losses
        run(true, draw);
        const out = lossesOf();
        resetRegistry(h);
        return out;
      };

      const enabledOrder = h.getEnabledAdapters();
      const compute = (what: string, want: FixtureTensor): Tensor => {
        const rule = parseExpectedName(
          what,
          plans.map((p) => p.name),
        );
        switch (rule.kind) {
          case 'output':
            return mainOutput;
          case 'adapter_output': {
            if (adapters.length !== 1) fail(`'adapter_output' is ambiguous with ${adapters.length} adapters`);
            h.train(training);
            return keep((adapters[0] as Module).forward(input));
          }
          case 'kept_output':
            return run(true, KEPT_DRAW);
          case 'dropped_output':
            return run(true, DROPPED_DRAW);
          case 'eval_output':
            return run(false, null);
          case 'after': {
            const pos = plans.findIndex((p) => p.name === rule.adapter);
            const upTo = new Set(plans.slice(0, pos + 1).map((p) => p.name));
            return run(
              training,
              null,
              enabledOrder.filter((n) => upTo.has(n)),
            );
          }
          case 'loss': {
            const byAdapter =
              rule.draw === null ? mainLosses : drawLosses(rule.draw === 'kept' ? KEPT_DRAW : DROPPED_DRAW);
            const all = [...byAdapter.values()].flat();
            if (rule.scope === 'total') return keep(all.length ? tf.addN(all) : tf.scalar(0));
            const list = rule.scope === 'one' ? all : byAdapter.get(rule.scope)!;
            const whose = rule.scope === 'one' ? 'the forward' : `adapter '${rule.scope}'`;
            if (want.shape.length === 0) {
              if (list.length !== 1)
                fail(`'${what}' expects one registered loss, ${whose} registered ${list.length}`);
              return list[0]!;
            }
            if (list.length === 0) fail(`'${what}': ${whose} registered no loss`);
            return keep(tf.stack(list));
          }
        }
      };

      const lines: string[] = [];
      let ok = true;
      for (const d of expected) {
        const what = d.name.startsWith('expected.') ? d.name.slice('expected.'.length) : d.name;
        const want = tensors.get(d.name)!;
        const c = compare(d.name, compute(what, want), want, tol.atol, tol.rtol);
        ok &&= c.ok;
        lines.push(c.line);
      }
      if (ignored.length) lines.push(`ignored descriptive keys: ${ignored.join(', ')}`);
      result = { ok, detail: `${label}: ${lines.join('; ')}` };
    });
    return result!;
  } catch (e) {
    const why =
      e instanceof CaseFailure
        ? e.message
        : `${(e as Error)?.name ?? 'Error'}: ${(e as Error)?.message ?? String(e)}`;
    return { ok: false, detail: `${label}: ${why}` };
  } finally {
    if (host) {
      resetRegistry(host);
      host.dispose();
    }
    for (const t of created) if (!t.isDisposed) t.dispose();
  }
}
