/**
 * Target-module matching (SPEC §4.2): which modules of a model a tuner config wraps, with the values
 * its method resolves per module (LoRA: rank and alpha). {@link inspectTargets} is the public dry run.
 */
import { AdapterError, check } from '../../errors.js';
import { logger } from '../../logger.js';
import { Linear } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import { ModulesToSaveWrapper } from './modules-to-save.js';
import { compilePattern } from './regex.js';
import { getTunerMethod, parseWrapperConfig, type TunerMethod, type WrapperConfig } from './registry.js';
import type { BaseTunerConfig, TargetPatterns } from './tuner-config.js';
import { BaseTunerLayer } from './tuner-layer.js';

/**
 * What a model may declare to help target matching (all optional). Methods add the defaults they
 * read (LoRA: `defaultLoraTargets`; IA³: `defaultIa3Targets`, `defaultIa3FeedforwardModules`).
 */
export interface ModelTargetHints {
  /** Path of the output layer, never wrapped by `'all-linear'`. */
  outputLayerPath?: string;
}

/**
 * One module a config would wrap. `r`, `alpha`, `scaling` are LoRA's (null for methods without a
 * rank); `feedforward` is IA³'s.
 */
export interface MatchedTarget {
  path: string;
  /** Type name of the wrapped layer (e.g. `Linear`, `Embedding`). */
  kind: string;
  r: number | null;
  alpha: number | null;
  scaling: number | null;
  /** IA³ only: the module's input is scaled. */
  feedforward?: boolean;
}

/** What {@link inspectTargets} returns. */
export interface TargetReport {
  matched: MatchedTarget[];
  /** Modules a target matched but `excludeModules` removed. */
  excluded: string[];
  /** Modules a target matched but `layersToTransform` removed. */
  filteredByLayer: string[];
  /** List entries of `targetModules` that match no module key. */
  unmatchedTargets: string[];
  /** Matched modules of a type the config cannot wrap. */
  unsupported: Array<{ path: string; kind: string }>;
}

/** @internal A targetable module: its path, the module there now, the layer underneath. */
export interface Candidate {
  path: string;
  module: Module;
  base: Module;
  kind: string;
}

/** @internal A planned wrap. */
export interface PlannedTarget extends MatchedTarget {
  candidate: Candidate;
}

/** @internal What {@link planTargets} returns: the report, the planned wraps, every module key, the keys a target selected. */
export interface TargetPlan {
  report: TargetReport;
  planned: PlannedTarget[];
  keys: string[];
  targetKeys: string[];
}

/**
 * Module keys of `model` (root excluded), skipping the internals of wrapper layers and of
 * modules-to-save copies. A wrapper layer stands for the layer it wraps.
 */
export function scanModules(model: Module): { keys: string[]; candidates: Candidate[] } {
  const keys: string[] = [];
  const candidates: Candidate[] = [];
  const opaque: string[] = [];
  for (const [path, m] of model.namedModules()) {
    if (path === '' || opaque.some((p) => path.startsWith(p))) continue;
    keys.push(path);
    if (m instanceof BaseTunerLayer) {
      opaque.push(`${path}.`);
      candidates.push({ path, module: m, base: m.baseLayer, kind: m.baseLayer.typeName });
    } else if (m instanceof ModulesToSaveWrapper) {
      opaque.push(`${path}.modules_to_save`);
    } else {
      candidates.push({ path, module: m, base: m, kind: m.typeName });
    }
  }
  // Modules kept for other adapters (modules-to-save wrappers and their subtrees) are never targeted.
  const kept = [...model.namedModules()].filter(([, m]) => m instanceof ModulesToSaveWrapper).map(([p]) => p);
  return {
    keys,
    candidates: candidates.filter((c) => !kept.some((k) => c.path === k || c.path.startsWith(`${k}.`))),
  };
}

/** Rule 1: `key` is `m` or lies under a module named `m`, at `.` boundaries. */
export function matchesModulesToSave(key: string, modulesToSave: readonly string[] | null): boolean {
  if (!modulesToSave) return false;
  return modulesToSave.some((m) => `.${key}.`.includes(`.${m}.`));
}

/** List rule: `key === t` or `key` ends with `.t`. */
function listMatch(key: string, t: string): boolean {
  return key === t || key.endsWith(`.${t}`);
}

/** Does `spec` (list or full-match regex) select `key`? */
export function specMatches(spec: TargetPatterns, key: string, field: string): boolean {
  if (typeof spec === 'string') return compilePattern(spec, field).test(key);
  return spec.some((t) => listMatch(key, t));
}

/** Rule 4: the layer index of `key` (first capture), or null. */
function layerIndex(key: string, layersPattern: string | string[] | null): number | null {
  const patterns =
    layersPattern === null ? [null] : Array.isArray(layersPattern) ? layersPattern : [layersPattern];
  for (const p of patterns) {
    const re =
      p === null
        ? /^.*?\.[^.]*\.(\d+)\./
        : compilePattern(p, 'layersPattern', (q) => `^.*?\\.(?:${q})\\.(\\d+)\\.`);
    const m = re.exec(key);
    if (m) return Number(m[m.length - 1]);
  }
  return null;
}

/** Rule 5: the first `pattern → value` entry whose `^(.*\.)?(?:p)$` matches `key`. */
export function patternOverride(
  patterns: Record<string, number>,
  key: string,
  field: string,
): number | undefined {
  for (const [p, v] of Object.entries(patterns)) {
    if (compilePattern(p, field, (q) => `^(.*\\.)?(?:${q})$`).test(key)) return v;
  }
  return undefined;
}

/**
 * Fills in model defaults through the config's method (`TunerMethod.resolveDefaults`). Returns a
 * fresh copy.
 */
export function resolveModelDefaults<C extends BaseTunerConfig>(model: Module, cfg: C, where: string): C {
  return getTunerMethod(cfg.type, where).resolveDefaults(model, structuredClone(cfg), where) as C;
}

/**
 * `targetModules` from the model property `hint` when the config gives none; no target and no
 * default → `INVALID_CONFIG` asking for it. Changes `cfg`; returns whether the default was used.
 * For methods' `resolveDefaults`.
 */
export function fillDefaultTargets(
  model: Module,
  cfg: BaseTunerConfig,
  hint: string,
  where: string,
): boolean {
  if (cfg.targetModules !== null) return false;
  const dflt = (model as unknown as Record<string, TargetPatterns | null | undefined>)[hint];
  check(
    dflt !== undefined && dflt !== null,
    'INVALID_CONFIG',
    () =>
      `${where}: targetModules is required: the config gives none and ${model.typeName} declares no ${hint}`,
    () => ({ field: 'targetModules' }),
  );
  cfg.targetModules = structuredClone(dflt);
  return true;
}

/** Up to 20 distinct leaf names of `keys`, for messages. */
function leafNames(keys: readonly string[]): string[] {
  return [...new Set(keys.map((k) => k.slice(k.lastIndexOf('.') + 1)))].slice(0, 20);
}

/**
 * Runs the §4.2 decision for every module key. `cfg` must have its targets resolved
 * ({@link resolveModelDefaults}). Pure: the model is not changed and nothing is thrown for
 * unmatched or unsupported targets (see {@link enforceTargets}).
 */
export function planTargets(model: Module, cfg: BaseTunerConfig): TargetPlan {
  const method: TunerMethod = getTunerMethod(cfg.type, 'planTargets');
  const { keys, candidates } = scanModules(model);
  const targets = cfg.targetModules!;
  const allLinear = targets === 'all-linear';
  const outputLayer = (model as Module & ModelTargetHints).outputLayerPath;
  const report: TargetReport = {
    matched: [],
    excluded: [],
    filteredByLayer: [],
    unmatchedTargets: [],
    unsupported: [],
  };
  const planned: PlannedTarget[] = [];
  const targetKeys: string[] = [];
  const toTransform = cfg.layersToTransform ?? null;
  const layers = toTransform === null ? null : Array.isArray(toTransform) ? toTransform : [toTransform];
  for (const c of candidates) {
    const key = c.path;
    if (matchesModulesToSave(key, cfg.modulesToSave)) continue; // rule 1
    const targeted = allLinear
      ? c.base instanceof Linear && key !== outputLayer
      : specMatches(targets, key, 'targetModules'); // rule 3
    if (!targeted) continue;
    targetKeys.push(key);
    if (cfg.excludeModules !== null && specMatches(cfg.excludeModules, key, 'excludeModules')) {
      report.excluded.push(key); // rule 2: exclusion wins
      continue;
    }
    if (layers) {
      const idx = layerIndex(key, cfg.layersPattern ?? null);
      if (idx === null || !layers.includes(idx)) {
        report.filteredByLayer.push(key); // rule 4
        continue;
      }
    }
    if (!method.canWrap(c.base, cfg)) {
      report.unsupported.push({ path: key, kind: c.kind }); // rule 6: supported types
      continue;
    }
    const values = method.describeTarget
      ? method.describeTarget(cfg, key)
      : { r: null, alpha: null, scaling: null };
    const entry: MatchedTarget = { path: key, kind: c.kind, ...values };
    report.matched.push(entry);
    planned.push({ ...entry, candidate: c });
  }
  if (Array.isArray(targets)) {
    report.unmatchedTargets = targets.filter((t) => !keys.some((k) => listMatch(k, t)));
  }
  return { report, planned, keys, targetKeys };
}

/**
 * Turns a plan into errors: list entries matching no module → `TARGET_NOT_FOUND` (one warning with
 * `allowPartialMatch`); a matched module of an unsupported type → `UNSUPPORTED_TARGET`; nothing
 * targeted → `TARGET_NOT_FOUND` always; then the method's own `checkPlan` (IA³: feed-forward
 * modules that are not targets → `INVALID_CONFIG`).
 */
export function enforceTargets(
  plan: TargetPlan,
  cfg: BaseTunerConfig,
  opts: { allowPartialMatch?: boolean; where: string },
): void {
  const method = getTunerMethod(cfg.type, opts.where);
  const { report, keys } = plan;
  const where = opts.where;
  const present = () => leafNames(keys).join(', ');
  if (report.unmatchedTargets.length) {
    const msg = `${where}: target modules ${report.unmatchedTargets.map((t) => `'${t}'`).join(', ')} not found in the model; module names present include: ${present()}`;
    if (opts.allowPartialMatch) logger().warn(msg);
    else throw new AdapterError('TARGET_NOT_FOUND', msg, { unmatched: report.unmatchedTargets });
  }
  if (report.unsupported.length) {
    const supported = method.supportedTargets(cfg);
    throw new AdapterError(
      'UNSUPPORTED_TARGET',
      `${where}: ${report.unsupported.map((u) => `'${u.path}' (${u.kind})`).join(', ')} cannot be wrapped by ${method.displayName}; supported types: ${supported}`,
      { targets: report.unsupported, supported },
    );
  }
  if (report.matched.length === 0) {
    const parts = [`targetModules ${JSON.stringify(cfg.targetModules)}`];
    if (cfg.excludeModules !== null) parts.push(`excludeModules ${JSON.stringify(cfg.excludeModules)}`);
    if (cfg.layersToTransform !== undefined && cfg.layersToTransform !== null) {
      parts.push(`layersToTransform ${JSON.stringify(cfg.layersToTransform)}`);
      if (cfg.layersPattern !== undefined && cfg.layersPattern !== null)
        parts.push(`layersPattern ${JSON.stringify(cfg.layersPattern)}`);
    }
    throw new AdapterError(
      'TARGET_NOT_FOUND',
      `${where}: the configuration targets no module (${parts.join(', ')}); module names present include: ${present()}`,
      { targetModules: cfg.targetModules },
    );
  }
  method.checkPlan?.(plan, cfg, where);
}

/** The sorted leaf names of the matched modules: how a saved config records `'all-linear'` (as PEFT). */
export function expandAllLinear(report: TargetReport): string[] {
  return [...new Set(report.matched.map((m) => m.path.slice(m.path.lastIndexOf('.') + 1)))].sort();
}

/**
 * Dry run of target matching: which modules `cfg` (a config of a registered method) would wrap in `model`,
 * with each module's r, alpha and scaling, and what was excluded, filtered by layer, unmatched or
 * unsupported. The model is not changed. An invalid config still throws `INVALID_CONFIG`.
 *
 * @example
 * ```ts
 * const r = inspectTargets(model, { type: 'lora', targetModules: ['q_proj', 'v_proj'], r: 8 });
 * r.matched.map((m) => m.path); // ['model.layers.0.self_attn.q_proj', …]
 * ```
 */
export function inspectTargets(model: Module, cfg: WrapperConfig): TargetReport {
  const where = 'inspectTargets';
  const normalized = resolveModelDefaults(model, parseWrapperConfig(cfg, where) as BaseTunerConfig, where);
  return planTargets(model, normalized).report;
}
