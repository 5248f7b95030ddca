/**
 * Target-module matching (SPEC §4.2): which modules of a model a `lora` or `ia3` config wraps, with
 * per-module rank and alpha. {@link inspectTargets} is the public dry run.
 */
import { AdapterError, check } from '../../errors.js';
import { logger } from '../../logger.js';
import { Embedding, Linear } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import { checkIa3CrossFields, type NormalizedIa3Config } from '../ia3/config.js';
import { checkLoraCrossFields, loraScaling, type NormalizedLoraConfig, type TargetSpec } from '../lora/config.js';
import { ModulesToSaveWrapper } from './modules-to-save.js';
import { compilePattern } from './regex.js';
import { BaseTunerLayer } from './tuner-layer.js';
import { parseWrapperConfig, type NormalizedWrapperConfig, type WrapperConfig } from './registry.js';

/** What a model may declare to help target matching (all optional). */
export interface ModelTargetHints {
  /** LoRA targets used when a config gives none. */
  defaultLoraTargets?: TargetSpec;
  /** Path of the output layer, never wrapped by `'all-linear'`. */
  outputLayerPath?: string;
  /** IA³ targets used when a config gives none. */
  defaultIa3Targets?: TargetSpec;
  /** IA³ feed-forward modules used when a config gives none. */
  defaultIa3FeedforwardModules?: TargetSpec;
}

/** One module a config would wrap. `r`, `alpha`, `scaling` are null for IA³. */
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
  return { keys, candidates: candidates.filter((c) => !kept.some((k) => c.path === k || c.path.startsWith(`${k}.`))) };
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
function specMatches(spec: TargetSpec, key: string, field: string): boolean {
  if (typeof spec === 'string') return compilePattern(spec, field).test(key);
  return spec.some((t) => listMatch(key, t));
}

/** Rule 4: the layer index of `key` (first capture), or null. */
function layerIndex(key: string, layersPattern: string | string[] | null): number | null {
  const patterns = layersPattern === null ? [null] : Array.isArray(layersPattern) ? layersPattern : [layersPattern];
  for (const p of patterns) {
    const re =
      p === null ? /^.*?\.[^.]*\.(\d+)\./ : compilePattern(p, 'layersPattern', (q) => `^.*?\\.(?:${q})\\.(\\d+)\\.`);
    const m = re.exec(key);
    if (m) return Number(m[m.length - 1]);
  }
  return null;
}

/** Rule 5: the first `pattern → value` entry whose `^(.*\.)?(?:p)$` matches `key`. */
function patternOverride(patterns: Record<string, number>, key: string, field: string): number | undefined {
  for (const [p, v] of Object.entries(patterns)) {
    if (compilePattern(p, field, (q) => `^(.*\\.)?(?:${q})$`).test(key)) return v;
  }
  return undefined;
}

/**
 * Fills in model defaults: `targetModules` from the model's `defaultLoraTargets` (LoRA) or
 * `defaultIa3Targets` (IA³), `feedforwardModules` from `defaultIa3FeedforwardModules`. No target
 * and no default → `INVALID_CONFIG` asking for it. Returns a fresh copy.
 */
export function resolveModelDefaults<C extends NormalizedWrapperConfig>(model: Module, cfg: C, where: string): C {
  const hints = model as Module & ModelTargetHints;
  const out = structuredClone(cfg);
  if (out.targetModules === null) {
    const dflt = out.type === 'lora' ? hints.defaultLoraTargets : hints.defaultIa3Targets;
    check(
      dflt !== undefined && dflt !== null,
      'INVALID_CONFIG',
      () => `${where}: targetModules is required: the config gives none and ${model.typeName} declares no ${out.type === 'lora' ? 'defaultLoraTargets' : 'defaultIa3Targets'}`,
      () => ({ field: 'targetModules' }),
    );
    out.targetModules = structuredClone(dflt);
    if (out.type === 'ia3' && out.feedforwardModules === null && hints.defaultIa3FeedforwardModules) {
      out.feedforwardModules = structuredClone(hints.defaultIa3FeedforwardModules);
    }
  }
  if (out.type === 'lora') checkLoraCrossFields(out as NormalizedLoraConfig, where);
  else checkIa3CrossFields(out as NormalizedIa3Config, where);
  return out;
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
export function planTargets(
  model: Module,
  cfg: NormalizedWrapperConfig,
): { report: TargetReport; planned: PlannedTarget[]; keys: string[]; targetKeys: string[] } {
  const { keys, candidates } = scanModules(model);
  const targets = cfg.targetModules!;
  const allLinear = targets === 'all-linear';
  const outputLayer = (model as Module & ModelTargetHints).outputLayerPath;
  const report: TargetReport = { matched: [], excluded: [], filteredByLayer: [], unmatchedTargets: [], unsupported: [] };
  const planned: PlannedTarget[] = [];
  const targetKeys: string[] = [];
  const lora = cfg.type === 'lora' ? cfg : null;
  const layers =
    lora?.layersToTransform === null || lora === null
      ? null
      : Array.isArray(lora.layersToTransform)
        ? lora.layersToTransform
        : [lora.layersToTransform];
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
      const idx = layerIndex(key, lora!.layersPattern);
      if (idx === null || !layers.includes(idx)) {
        report.filteredByLayer.push(key); // rule 4
        continue;
      }
    }
    // rule 6: supported types
    const supported = lora
      ? c.base instanceof Linear || (c.base instanceof Embedding && !lora.useDora && !lora.loraBias)
      : c.base instanceof Linear;
    if (!supported) {
      report.unsupported.push({ path: key, kind: c.kind });
      continue;
    }
    let entry: MatchedTarget;
    if (lora) {
      const r = patternOverride(lora.rankPattern, key, 'rankPattern') ?? lora.r; // rule 5
      const alpha = patternOverride(lora.alphaPattern, key, 'alphaPattern') ?? lora.loraAlpha;
      entry = { path: key, kind: c.kind, r, alpha, scaling: loraScaling(r, alpha, lora.useRslora) };
    } else {
      const ff = (cfg as NormalizedIa3Config).feedforwardModules;
      const feedforward =
        ff === null ? false : typeof ff === 'string' ? compilePattern(ff, 'feedforwardModules').test(key) : ff.some((e) => key.endsWith(e));
      entry = { path: key, kind: c.kind, r: null, alpha: null, scaling: null, feedforward };
    }
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
 * targeted → `TARGET_NOT_FOUND` always; IA³ feed-forward modules that are not targets → `INVALID_CONFIG`.
 */
export function enforceTargets(
  plan: { report: TargetReport; keys: string[]; targetKeys: string[] },
  cfg: NormalizedWrapperConfig,
  opts: { allowPartialMatch?: boolean; where: string },
): void {
  const { report, keys } = plan;
  const where = opts.where;
  const present = () => leafNames(keys).join(', ');
  if (report.unmatchedTargets.length) {
    const msg = `${where}: target modules ${report.unmatchedTargets.map((t) => `'${t}'`).join(', ')} not found in the model; module names present include: ${present()}`;
    if (opts.allowPartialMatch) logger().warn(msg);
    else throw new AdapterError('TARGET_NOT_FOUND', msg, { unmatched: report.unmatchedTargets });
  }
  if (report.unsupported.length) {
    const supported = cfg.type === 'ia3' ? 'Linear' : cfg.useDora || cfg.loraBias ? 'Linear (useDora/loraBias)' : 'Linear, Embedding';
    throw new AdapterError(
      'UNSUPPORTED_TARGET',
      `${where}: ${report.unsupported.map((u) => `'${u.path}' (${u.kind})`).join(', ')} cannot be wrapped by ${cfg.type === 'ia3' ? 'IA³' : 'LoRA'}; supported types: ${supported}`,
      { targets: report.unsupported, supported },
    );
  }
  if (report.matched.length === 0) {
    const parts = [`targetModules ${JSON.stringify(cfg.targetModules)}`];
    if (cfg.excludeModules !== null) parts.push(`excludeModules ${JSON.stringify(cfg.excludeModules)}`);
    if (cfg.type === 'lora' && cfg.layersToTransform !== null) {
      parts.push(`layersToTransform ${JSON.stringify(cfg.layersToTransform)}`);
      if (cfg.layersPattern !== null) parts.push(`layersPattern ${JSON.stringify(cfg.layersPattern)}`);
    }
    throw new AdapterError(
      'TARGET_NOT_FOUND',
      `${where}: the configuration targets no module (${parts.join(', ')}); module names present include: ${present()}`,
      { targetModules: cfg.targetModules },
    );
  }
  if (cfg.type === 'ia3' && cfg.feedforwardModules !== null) {
    const ff = cfg.feedforwardModules;
    const targetKeys = plan.targetKeys;
    const bad =
      typeof ff === 'string'
        ? keys.filter((k) => compilePattern(ff, 'feedforwardModules').test(k) && !targetKeys.includes(k))
        : ff.filter((e) => !targetKeys.some((k) => k.endsWith(e)));
    check(
      bad.length === 0,
      'INVALID_CONFIG',
      () => `${where}: feedforwardModules must be a subset of the target modules; not targets: ${bad.join(', ')}`,
      () => ({ field: 'feedforwardModules', value: bad }),
    );
  }
}

/** The sorted leaf names of the matched modules: how a saved config records `'all-linear'` (as PEFT). */
export function expandAllLinear(report: TargetReport): string[] {
  return [...new Set(report.matched.map((m) => m.path.slice(m.path.lastIndexOf('.') + 1)))].sort();
}

/**
 * Dry run of target matching: which modules `cfg` (a `lora` or `ia3` config) would wrap in `model`,
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
  const normalized = resolveModelDefaults(model, parseWrapperConfig(cfg, where), where);
  return planTargets(model, normalized).report;
}
