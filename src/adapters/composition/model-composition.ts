/**
 * The model-level side of composition: `setActiveSetup`, `addFusion` and their bookkeeping (the model
 * mixin delegates here). Every call validates everything first and changes the model only after, so
 * a failing call leaves the model exactly as it was.
 */
import type { Tensor } from '../../backend/tf.js';
import { AdapterError, check } from '../../errors.js';
import { ModuleDict } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import { isAdapterHost } from '../host-brand.js';
import { shareModelGuid } from '../model-guid.js';
import type { AdaptersConfig, NormalizedAdapterConfig } from '../types.js';
import { AdapterFusion, parseFusionConfig, type FusionConfigInput } from './fusion.js';
import {
  describeSetup,
  fuseBlocks,
  fusionNameOf,
  parseSetup,
  setupAdapterNames,
  setupToJson,
  type SetupBlock,
  type SetupChild,
  type SetupInput,
} from './setup.js';
import {
  COMPOSITION_KEY,
  compositionCfgOf,
  ensureCompositionCfg,
  FUSION_LAYER,
  type CompositionCfg,
  type FusionRecord,
} from './state.js';

/** What the composition needs from a model (every `withAdapterModel` model has it). */
export interface ComposableModel extends Module {
  cfg: { adapters?: AdaptersConfig };
  adapterNames(): string[];
}

interface HostLike extends Module {
  peekAdapterLayer(): { has(name: string): boolean } | undefined;
  hostLabel(): string;
}

function notFound(msg: string, details: Record<string, unknown>): never {
  throw new AdapterError('NOT_FOUND', msg, details);
}

/** The names of the model's recorded fusions. */
export function listFusions(model: ComposableModel): string[] {
  return Object.keys(compositionCfgOf(model.cfg.adapters)?.fusions ?? {});
}

/** The active setup (a copy, in its JSON form), or null when the default chain runs. */
export function getActiveSetup(model: ComposableModel): SetupBlock | null {
  const s = compositionCfgOf(model.cfg.adapters)?.activeSetup;
  return s ? setupToJson(s) : null;
}

/** Checks that every adapter the setup names exists and is enabled, and every Fuse has its fusion layer. */
function checkSetupAgainstModel(
  model: ComposableModel,
  setup: SetupBlock,
  fusions: readonly string[],
  where: string,
): void {
  const all = model.adapterNames();
  for (const n of setupAdapterNames(setup)) {
    if (!all.includes(n)) {
      notFound(
        `${where}: '${n}' is not an adapter of ${model.typeName}; its adapters: ${all.join(', ') || '(none)'}`,
        {
          name: n,
          valid: all,
        },
      );
    }
    const entry = model.cfg.adapters![n] as NormalizedAdapterConfig;
    check(
      entry.enabled,
      'INVALID_CONFIG',
      () =>
        `${where}: adapter '${n}' is disabled, so ${describeSetup(setup)} cannot run it; enable it with setEnabledAdapters('${n}') first`,
      () => ({ name: n }),
    );
  }
  for (const f of fuseBlocks(setup)) {
    const name = fusionNameOf(f);
    if (!fusions.includes(name)) {
      notFound(
        `${where}: ${describeSetup(f)} needs the fusion layer '${name}', which ${model.typeName} does not have; add it with addFusion([${name
          .split(',')
          .map((n) => `'${n}'`)
          .join(', ')}]); existing fusions: ${fusions.join(' | ') || '(none)'}`,
        { name, valid: [...fusions] },
      );
    }
  }
}

/**
 * Makes `setup` the model's active setup (applied at every host holding its adapters), or restores
 * the default chain with `null`. Errors (the model is unchanged): `INVALID_CONFIG` for a malformed
 * setup, a nesting AdapterHub does not allow, or a disabled adapter; `NOT_FOUND` for a name that is
 * not an adapter of the model or a Fuse without its fusion layer.
 */
export function setActiveSetup(model: ComposableModel, setup: SetupInput | null | undefined): void {
  if (setup === null || setup === undefined) {
    const comp = compositionCfgOf(model.cfg.adapters);
    if (comp) delete comp.activeSetup;
    return;
  }
  const parsed = parseSetup(setup);
  checkSetupAgainstModel(model, parsed, listFusions(model), 'setActiveSetup');
  model.cfg.adapters ??= {};
  ensureCompositionCfg(model.cfg.adapters).activeSetup = parsed;
}

/** Hosts (in module order) whose own adapters include every one of `children`. */
function hostsHolding(model: ComposableModel, children: readonly string[]): HostLike[] {
  return model
    .namedModules()
    .map(([, m]) => m)
    .filter(
      (m) => isAdapterHost(m) && children.every((c) => (m as unknown as HostLike).peekAdapterLayer()?.has(c)),
    ) as HostLike[];
}

/** The width a fusion of `children` works at: their common `inFeatures`. */
function fusionWidth(model: ComposableModel, children: readonly string[], where: string): number {
  const widths = children.map((c) => (model.cfg.adapters![c] as NormalizedAdapterConfig).inFeatures);
  children.forEach((c, i) => {
    check(
      typeof widths[i] === 'number',
      'INVALID_CONFIG',
      () =>
        `${where}: adapter '${c}' (type '${String((model.cfg.adapters![c] as NormalizedAdapterConfig).type)}') has no inFeatures; fusion works on bottleneck adapters that map [..., D] to [..., D] (type 'linear')`,
      () => ({ name: c }),
    );
  });
  check(
    widths.every((w) => w === widths[0]),
    'INVALID_CONFIG',
    () =>
      `${where}: the adapters to fuse have different widths (${children.map((c, i) => `${c}: ${String(widths[i])}`).join(', ')}); they must share inFeatures`,
  );
  return widths[0] as number;
}

function fusionDict(host: Module): ModuleDict | undefined {
  return host.getChild(FUSION_LAYER) as ModuleDict | undefined;
}

/** Builds the fusion layers of `record` on every host holding its adapters (nothing attached yet). */
function buildFusionLayers(
  model: ComposableModel,
  name: string,
  record: FusionRecord,
  where: string,
): Array<[HostLike, AdapterFusion]> {
  const hosts = hostsHolding(model, record.children);
  if (hosts.length === 0) {
    const holders = record.children.map((c) => {
      const at = model
        .namedModules()
        .filter(([, m]) => isAdapterHost(m) && (m as unknown as HostLike).peekAdapterLayer()?.has(c))
        .map(([p]) => `'${p}'`);
      return `${c} on ${at.join(', ') || 'no module'}`;
    });
    throw new AdapterError(
      'INVALID_CONFIG',
      `${where}: no module of ${model.typeName} holds all of ${record.children.join(', ')} (${holders.join('; ')}); a fusion combines adapters of one module`,
      { children: [...record.children] },
    );
  }
  const features = fusionWidth(model, record.children, where);
  const built: Array<[HostLike, AdapterFusion]> = [];
  try {
    for (const h of hosts) {
      check(
        !fusionDict(h)?.has(name),
        'INVALID_CONFIG',
        () => `${where}: '${h.hostLabel()}' already holds fusion '${name}'`,
      );
      const f = new AdapterFusion({ features, config: record.config });
      shareModelGuid(h, f);
      f.train(h.training);
      built.push([h, f]);
    }
  } catch (e) {
    for (const [, f] of built) f.dispose();
    throw e;
  }
  return built;
}

function attachFusionLayers(name: string, built: Array<[HostLike, AdapterFusion]>): void {
  for (const [h, f] of built) {
    const dict = fusionDict(h) ?? h.registerModule(FUSION_LAYER, new ModuleDict());
    dict.set(name, f);
  }
}

/**
 * Adds an AdapterFusion layer over `children` to every module holding all of them (AdapterHub's
 * `add_adapter_fusion`), named by the children joined with `,`. `cfg`: `'dynamic'` (default),
 * `'static'`, or AdapterHub's fields in camelCase (missing ones from `dynamic`). Returns the name.
 * Errors (the model is unchanged): `NOT_FOUND` for an unknown adapter; `INVALID_CONFIG` for a bad
 * config, an existing fusion, adapters on different modules or of different widths.
 */
export function addFusion(
  model: ComposableModel,
  children: readonly string[],
  cfg?: FusionConfigInput,
): string {
  const where = 'addFusion';
  check(
    Array.isArray(children) && children.length > 0 && children.every((c) => typeof c === 'string'),
    'INVALID_CONFIG',
    () => `${where}: expected a non-empty list of adapter names, got ${JSON.stringify(children)}`,
  );
  check(
    new Set(children).size === children.length,
    'INVALID_CONFIG',
    () => `${where}: an adapter is listed twice in ${children.join(', ')}`,
  );
  const all = model.adapterNames();
  for (const c of children) {
    if (!all.includes(c))
      notFound(
        `${where}: '${c}' is not an adapter of ${model.typeName}; its adapters: ${all.join(', ') || '(none)'}`,
        { name: c, valid: all },
      );
  }
  const name = children.join(',');
  const existing = listFusions(model);
  check(
    !existing.includes(name),
    'INVALID_CONFIG',
    () =>
      `${where}: fusion '${name}' already exists; delete it with deleteFusion first (existing fusions: ${existing.join(' | ')})`,
    () => ({ name }),
  );
  const record: FusionRecord = {
    children: [...children],
    config: parseFusionConfig(cfg, `${where}(${name})`),
  };
  const built = buildFusionLayers(model, name, record, where);
  attachFusionLayers(name, built);
  model.cfg.adapters ??= {};
  (ensureCompositionCfg(model.cfg.adapters).fusions ??= {})[name] = record;
  return name;
}

/** Removes fusion `children` (or its name) from every host and the config. Unknown → `NOT_FOUND`. */
export function deleteFusion(model: ComposableModel, children: readonly string[] | string): void {
  const name = typeof children === 'string' ? children : children.join(',');
  const existing = listFusions(model);
  if (!existing.includes(name))
    notFound(`deleteFusion: no fusion '${name}'; existing fusions: ${existing.join(' | ') || '(none)'}`, {
      name,
      valid: existing,
    });
  const comp = compositionCfgOf(model.cfg.adapters)!;
  if (comp.activeSetup && fuseBlocks(comp.activeSetup).some((f) => fusionNameOf(f) === name)) {
    throw new AdapterError(
      'INVALID_CONFIG',
      `deleteFusion: the active setup ${describeSetup(comp.activeSetup)} uses fusion '${name}'; change the setup first`,
      { name },
    );
  }
  removeFusionLayers(model, name);
  delete comp.fusions![name];
}

function removeFusionLayers(model: ComposableModel, name: string): void {
  for (const [, m] of model.namedModules()) {
    const dict = fusionDict(m);
    if (dict instanceof ModuleDict && dict.has(name)) dict.delete(name)!.dispose();
  }
}

/** The fusion layers named `name` (children joined by `,`), one per host holding them. */
export function getFusionLayers(
  model: ComposableModel,
  children: readonly string[] | string,
): AdapterFusion[] {
  const name = typeof children === 'string' ? children : children.join(',');
  return model
    .namedModules()
    .map(([, m]) => fusionDict(m)?.get(name))
    .filter((f): f is AdapterFusion => f instanceof AdapterFusion);
}

/** Sets `trainable` on every parameter of the fusion layers `children` (AdapterHub's `unfreeze_fusion`). */
export function unfreezeFusion(
  model: ComposableModel,
  children: readonly string[] | string,
  trainable = true,
): void {
  const layers = getFusionLayers(model, children);
  const name = typeof children === 'string' ? children : children.join(',');
  if (layers.length === 0) {
    const existing = listFusions(model);
    notFound(`unfreezeFusion: no fusion '${name}'; existing fusions: ${existing.join(' | ') || '(none)'}`, {
      name,
      valid: existing,
    });
  }
  for (const f of layers) {
    f.train(trainable);
    for (const p of f.parameters()) p.trainable = trainable;
  }
}

/**
 * Called when adapter `name` is deleted: fusions over it are removed, and an active setup naming it
 * is cleared (both would refer to an adapter that no longer exists).
 */
export function forgetAdapterInComposition(model: ComposableModel, name: string): void {
  const comp = compositionCfgOf(model.cfg.adapters);
  if (!comp) return;
  if (comp.activeSetup && setupAdapterNames(comp.activeSetup).includes(name)) delete comp.activeSetup;
  for (const [fname, rec] of Object.entries(comp.fusions ?? {})) {
    if (!rec.children.includes(name)) continue;
    removeFusionLayers(model, fname);
    delete comp.fusions![fname];
  }
}

/**
 * Rebuilds the fusion layers recorded in the config (after `setupAdapters` rebuilt the adapters),
 * so a model built from a saved config has the same modules; their weights come with the checkpoint.
 */
export function rebuildFusionLayers(model: ComposableModel): void {
  const comp = compositionCfgOf(model.cfg.adapters);
  for (const [name, rec] of Object.entries(comp?.fusions ?? {})) {
    if (getFusionLayers(model, name).length > 0) continue;
    attachFusionLayers(
      name,
      buildFusionLayers(
        model,
        name,
        { children: rec.children, config: parseFusionConfig(rec.config, `fusion '${name}'`) },
        'setupAdapters',
      ),
    );
  }
}

// ------------------------------------------------------------------------------------------------
// Adapter files: the composition state and fusion weights travel with the adapters they name.

/** What an adapter file stores of the composition for a set of saved adapters. */
export interface SavedComposition {
  /** Goes to `globalCfg.adapterCompositionCfg` of the file's config (absent when empty). */
  config: CompositionCfg | undefined;
  /** Fusion name → one list of tensor names per host (module order). */
  index: Record<string, string[][]>;
  tensors: Array<[string, Tensor]>;
}

/** The tensor-name prefix of fusion weights in an adapter file. */
export const FUSION_TENSOR_PREFIX = 'fusion:';

/**
 * The composition state to save with adapters `saved`: the fusions whose adapters are all saved
 * (with their weights), and the active setup when every adapter it names is saved.
 */
export function compositionForSave(model: ComposableModel, saved: readonly string[]): SavedComposition {
  const comp = compositionCfgOf(model.cfg.adapters);
  const out: SavedComposition = { config: undefined, index: {}, tensors: [] };
  if (!comp) return out;
  const config: CompositionCfg = {};
  for (const [name, rec] of Object.entries(comp.fusions ?? {})) {
    if (!rec.children.every((c) => saved.includes(c))) continue;
    (config.fusions ??= {})[name] = structuredClone(rec);
    out.index[name] = getFusionLayers(model, name).map((f, i) =>
      [...f.stateDict()].map(([k, t]) => {
        const tensorName = `${FUSION_TENSOR_PREFIX}${name}/${i}/${k}`;
        out.tensors.push([tensorName, t]);
        return tensorName;
      }),
    );
  }
  if (comp.activeSetup && setupAdapterNames(comp.activeSetup).every((n) => saved.includes(n))) {
    config.activeSetup = setupToJson(comp.activeSetup);
  }
  out.config = config.activeSetup || config.fusions ? config : undefined;
  return out;
}

function renamed(s: SetupChild, rename: (n: string) => string): SetupChild {
  return typeof s === 'string'
    ? rename(s)
    : ({ ...s, children: s.children.map((c) => renamed(c, rename)) } as SetupBlock);
}

/**
 * Restores the composition state stored in an adapter file after its adapters were added: fusions
 * whose adapters were all loaded (weights from `readFragment`), then the setup when all its adapters
 * were loaded. `rename` maps the file's adapter names to the model's.
 */
export function restoreComposition(
  model: ComposableModel,
  stored: unknown,
  index: Record<string, string[][]>,
  loaded: readonly string[],
  rename: (n: string) => string,
  readFragment: (tensorNames: readonly string[], prefix: string) => Map<string, Tensor>,
  source = 'adapter file',
): void {
  if (stored === undefined) return;
  const bad = (msg: string): never => {
    throw new AdapterError('CHECKPOINT_FORMAT', `${source}: ${msg}`, { source });
  };
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored))
    bad(`globalCfg.${COMPOSITION_KEY} must be an object`);
  const comp = stored as CompositionCfg;
  for (const [name, rec] of Object.entries(comp.fusions ?? {})) {
    if (!rec || !Array.isArray(rec.children) || !rec.children.every((c) => typeof c === 'string'))
      bad(`fusion '${name}' has no list of children`);
    const children = rec.children.map(rename);
    if (!rec.children.every((c) => loaded.includes(rename(c)))) continue;
    const fragments = index[name] ?? bad(`fusion '${name}' has no tensors in the file`);
    const newName = addFusion(model, children, rec.config);
    const layers = getFusionLayers(model, newName);
    check(
      layers.length === fragments.length,
      'CHECKPOINT_MISMATCH',
      () =>
        `${source}: fusion '${name}' has ${fragments.length} fragment(s) in the file but lands on ${layers.length} module(s) of this model`,
      () => ({ name, fragments: fragments.length, hosts: layers.length }),
    );
    layers.forEach((f, i) => {
      const sd = readFragment(fragments[i]!, `${FUSION_TENSOR_PREFIX}${name}/${i}/`);
      try {
        f.loadStateDict(sd, { strict: true });
      } finally {
        for (const t of sd.values()) t.dispose();
      }
    });
  }
  if (comp.activeSetup) {
    const setup = parseSetup(comp.activeSetup);
    if (setupAdapterNames(setup).every((n) => loaded.includes(rename(n))))
      setActiveSetup(model, renamed(setup, rename) as SetupBlock);
  }
}
