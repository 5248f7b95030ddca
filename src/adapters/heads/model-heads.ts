/**
 * The model-level side of adapter-owned heads (SPEC §5.2): which modules an adapter's
 * `modulesToSave` and `extendOutput` select, putting {@link AdapterHeadsWrapper}s in place, which
 * adapters' heads run, and the heads' tensors for adapter files. The model mixin calls these; every
 * check runs in {@link planHeads} before anything changes.
 */
import type { Tensor } from '../../backend/tf.js';
import { AdapterError, check } from '../../errors.js';
import { Linear } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import { setupAdapterNames, type SetupChild } from '../composition/setup.js';
import { compositionCfgOf, FUSION_LAYER } from '../composition/state.js';
import { isAdapterHost } from '../host-brand.js';
import { adapterNamesInOrder } from '../host.js';
import { ModulesToSaveWrapper, selectModulesToSave } from '../tuners/modules-to-save.js';
import { BaseTunerLayer } from '../tuners/tuner-layer.js';
import type { AdaptersConfig, NormalizedAdapterConfig } from '../types.js';
import type { HeadsConfig } from './config.js';
import { AdapterHeadsWrapper, type HeadsContext } from './heads-wrapper.js';

/** What heads need from a model (every `withAdapterModel` model has it). */
export interface HeadsModel extends Module {
  cfg: { adapters?: AdaptersConfig; labels?: unknown };
}

/** Where an adapter's heads go, found by {@link planHeads}. */
export interface HeadsPlan {
  /** Paths of the modules the adapter gets copies of. */
  copies: string[];
  /** The output layer the adapter extends, its input width and the new labels. */
  extension?: { path: string; inFeatures: number; newLabels: string[] };
}

/** The parts of a saved head: a copy or an extension. */
type HeadPart = 'copy' | 'extension';

/**
 * The class names of the model's output, when it has them: `cfg.labels`, else a `labels` property,
 * when either is a list of strings. Models without names have no labels an extension could repeat.
 */
export function baseOutputLabels(model: Module): string[] | null {
  for (const v of [(model as HeadsModel).cfg?.labels, (model as unknown as { labels?: unknown }).labels]) {
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return [...(v as string[])];
  }
  return null;
}

/**
 * The labels of the model's output columns as it runs now: its own labels ({@link baseOutputLabels};
 * column numbers `'0'`, `'1'`, … when it has none) followed by the new labels of the active output
 * extension. Null when the model has neither labels nor an active extension.
 *
 * @example
 * ```ts
 * clf.addAdapter('epo', { type: 'linear', inFeatures: 64, dim: 8, extendOutput: { module: 'classifier', newLabels: ['epo'] } });
 * outputLabels(clf); // [...clf.cfg.labels, 'epo']
 * ```
 */
export function outputLabels(model: Module): string[] | null {
  const base = baseOutputLabels(model);
  for (const [, w] of headsWrappers(model)) {
    const ext = w.activeExtension();
    if (!ext) continue;
    const width = (w.originalModule as Linear).outFeatures;
    return [...(base ?? Array.from({ length: width }, (_, i) => String(i))), ...ext.newLabels];
  }
  return base;
}

/**
 * Module paths that can be named, with the module there: every module of the model except the root
 * and what sits inside adapters (adapter layers, copies, extensions, tuner wrappers' internals).
 */
function candidateModules(model: Module): Array<[string, Module]> {
  const out: Array<[string, Module]> = [];
  const opaque: string[] = [];
  for (const [path, m] of model.namedModules()) {
    if (path === '' || opaque.some((p) => path.startsWith(p))) continue;
    const leaf = path.slice(path.lastIndexOf('.') + 1);
    if (leaf === 'adapter_layer' || leaf === FUSION_LAYER) {
      opaque.push(`${path}.`);
      continue;
    }
    out.push([path, m]);
    if (m instanceof BaseTunerLayer) opaque.push(`${path}.`);
    if (m instanceof ModulesToSaveWrapper)
      opaque.push(`${path}.modules_to_save`, `${path}.output_extensions`);
  }
  return out;
}

function listPaths(entries: Array<[string, Module]>): string {
  const paths = entries.map(([p]) => p);
  return paths.length > 30
    ? `${paths.slice(0, 30).join(', ')}, … (${paths.length} in all)`
    : paths.join(', ');
}

/** A module an adapter cannot own: it holds adapters itself, or another method wraps it. */
function ownershipProblem(m: Module): string | null {
  if (m instanceof AdapterHeadsWrapper) return null;
  if (m instanceof BaseTunerLayer || m instanceof ModulesToSaveWrapper)
    return `it is wrapped by a ${m.typeName}`;
  if (m.namedModules().some(([, sub]) => isAdapterHost(sub))) return 'it holds adapters';
  return null;
}

/** The wrapped module (for a heads wrapper) or the module itself. */
function unwrapped(m: Module): Module {
  return m instanceof AdapterHeadsWrapper ? m.originalModule : m;
}

/**
 * Checks `heads` against the model and returns where each part goes, changing nothing.
 * - `modulesToSave`: each entry selects modules by the `.`-boundary suffix rule (SPEC §4.2); an entry
 *   matching nothing → `TARGET_NOT_FOUND` listing the valid paths; a module holding adapters or
 *   wrapped by a tuner → `UNSUPPORTED_TARGET` naming it.
 * - `extendOutput`: the module must be one `Linear` (the model's `outputLayerPath` when it declares
 *   one), else `UNSUPPORTED_TARGET` naming the path; a label repeated, or already one of the model's
 *   labels ({@link baseOutputLabels}) → `INVALID_CONFIG` naming it.
 */
export function planHeads(model: HeadsModel, heads: HeadsConfig, where: string): HeadsPlan {
  const entries = candidateModules(model);
  const plan: HeadsPlan = { copies: [] };
  if (heads.modulesToSave) {
    const sel = selectModulesToSave(
      entries.map(([p]) => p),
      heads.modulesToSave,
    );
    check(
      sel.unmatched.length === 0,
      'TARGET_NOT_FOUND',
      () =>
        `${where}: modulesToSave ${sel.unmatched.map((m) => `'${m}'`).join(', ')} matches no module of ${model.typeName}; valid module paths: ${listPaths(entries)}`,
      () => ({ unmatched: sel.unmatched, valid: entries.map(([p]) => p) }),
    );
    for (const path of sel.chosen) {
      const problem = ownershipProblem(entries.find(([p]) => p === path)![1]);
      check(
        problem === null,
        'UNSUPPORTED_TARGET',
        () =>
          `${where}: modulesToSave cannot copy '${path}': ${problem}; name a module without adapters, such as the output layer`,
        () => ({ path }),
      );
    }
    plan.copies = sel.chosen;
  }
  if (heads.extendOutput) {
    const { module, newLabels } = heads.extendOutput;
    const matches = selectModulesToSave(
      entries.map(([p]) => p),
      [module],
    ).chosen;
    check(
      matches.length > 0,
      'TARGET_NOT_FOUND',
      () =>
        `${where}: extendOutput.module '${module}' matches no module of ${model.typeName}; valid module paths: ${listPaths(entries)}`,
      () => ({ module, valid: entries.map(([p]) => p) }),
    );
    check(
      matches.length === 1,
      'INVALID_CONFIG',
      () =>
        `${where}: extendOutput.module '${module}' matches ${matches.join(', ')}; name one of them in full`,
      () => ({ module, matches }),
    );
    const path = matches[0]!;
    const m = unwrapped(entries.find(([p]) => p === path)![1]);
    const outputPath = (model as { outputLayerPath?: unknown }).outputLayerPath;
    check(
      m instanceof Linear && (typeof outputPath !== 'string' || outputPath === path),
      'UNSUPPORTED_TARGET',
      () =>
        `${where}: extendOutput needs a linear output layer, but '${path}' is ${m instanceof Linear ? `not the model's output layer ('${String(outputPath)}')` : `a ${m.typeName}`}` +
        (typeof outputPath === 'string'
          ? `; extend '${outputPath}'`
          : '; name a Linear whose output is the logits'),
      () => ({ path, type: m.typeName }),
    );
    const dup = newLabels.filter((l, i) => newLabels.indexOf(l) !== i);
    check(
      dup.length === 0,
      'INVALID_CONFIG',
      () => `${where}: extendOutput.newLabels lists '${dup[0]}' more than once`,
      () => ({ field: 'extendOutput.newLabels', value: dup[0] }),
    );
    const base = baseOutputLabels(model) ?? [];
    const taken = newLabels.filter((l) => base.includes(l));
    check(
      taken.length === 0,
      'INVALID_CONFIG',
      () =>
        `${where}: extendOutput.newLabels ${taken.map((l) => `'${l}'`).join(', ')} already ${taken.length > 1 ? 'are labels' : 'is a label'} of ${model.typeName} (its labels: ${base.join(', ')}); new labels must be new`,
      () => ({ field: 'extendOutput.newLabels', value: taken, existing: base }),
    );
    plan.extension = { path, inFeatures: (m as Linear).inFeatures, newLabels: [...newLabels] };
  }
  return plan;
}

/** The heads config stored with adapter `name`. */
function headsOf(adapters: AdaptersConfig, name: string): HeadsConfig {
  return (adapters[name] ?? {}) as HeadsConfig;
}

/** True when adapter `name`'s config owns a head. */
function ownsHeads(adapters: AdaptersConfig, name: string): boolean {
  const h = headsOf(adapters, name);
  return Boolean(h.modulesToSave || h.extendOutput);
}

/**
 * Blocks whose children see different rows of the batch: a head belongs to the whole model, so an
 * adapter that owns one cannot be a branch of them.
 */
const ROW_SPLITTING = new Set(['parallel', 'batchSplit']);

function checkSetupHeads(adapters: AdaptersConfig, s: SetupChild): void {
  if (typeof s === 'string') return;
  if (ROW_SPLITTING.has(s.type)) {
    const owners = setupAdapterNames(s).filter((n) => ownsHeads(adapters, n));
    check(
      owners.length === 0,
      'INVALID_CONFIG',
      () =>
        `adapter(s) ${owners.map((n) => `'${n}'`).join(', ')} own heads (modulesToSave or extendOutput), which serve the whole batch; they cannot be branches of a ${s.type} block; use Stack, Average or Fuse`,
      () => ({ block: s.type, adapters: owners }),
    );
  }
  for (const c of s.children) checkSetupHeads(adapters, c);
}

/** How the model's heads wrappers ask which adapters run: enabled flags, then the active setup. */
export function headsContextOf(model: HeadsModel): HeadsContext {
  const enabled = (): string[] => {
    const adapters = model.cfg.adapters;
    if (!adapters) return [];
    return adapterNamesInOrder(adapters).filter(
      (n) => (adapters[n] as NormalizedAdapterConfig | undefined)?.enabled,
    );
  };
  return {
    enabledAdapters: enabled,
    activeAdapters: () => {
      const adapters = model.cfg.adapters;
      const setup = compositionCfgOf(adapters)?.activeSetup;
      if (!adapters || !setup) return enabled();
      checkSetupHeads(adapters, setup);
      return setupAdapterNames(setup);
    },
  };
}

/** The heads wrappers of the model, with their paths. */
export function headsWrappers(model: Module): Array<[string, AdapterHeadsWrapper]> {
  return model
    .namedModules()
    .filter((e): e is [string, AdapterHeadsWrapper] => e[1] instanceof AdapterHeadsWrapper);
}

function wrapperAt(model: HeadsModel, path: string): AdapterHeadsWrapper {
  const current = model.getSubmodule(path)!;
  if (current instanceof AdapterHeadsWrapper) return current;
  const wrapper = new AdapterHeadsWrapper(current);
  wrapper.layerPath = path;
  wrapper.headsCtx = headsContextOf(model);
  model.setSubmodule(path, wrapper);
  return wrapper;
}

/** Gives adapter `name` what `plan` says (copies, extension). On failure nothing of it remains. */
export function attachHeads(model: HeadsModel, name: string, plan: HeadsPlan): void {
  try {
    for (const path of plan.copies) wrapperAt(model, path).addCopy(name);
    if (plan.extension) {
      const { path, inFeatures, newLabels } = plan.extension;
      wrapperAt(model, path).addExtension(name, inFeatures, newLabels);
    }
  } catch (e) {
    detachHeads(model, name);
    throw e;
  }
}

/** Frees adapter `name`'s copies and extension; a wrapper nobody owns gives its place back. */
export function detachHeads(model: Module, name: string): void {
  for (const [path, w] of headsWrappers(model)) {
    w.removeCopy(name);
    w.removeExtension(name);
    if (w.isEmpty()) {
      w.restoreOriginalFlags();
      w.originalModule.training = w.training;
      model.setSubmodule(path, w.originalModule);
    }
  }
}

/**
 * Adapter `name`'s head tensors, keyed `<module path>/copy/<state key>` and
 * `<module path>/extension/<state key>` (relative to the adapter, so a renamed load finds them).
 */
export function adapterHeadsState(model: Module, name: string): Array<[string, Tensor]> {
  const out: Array<[string, Tensor]> = [];
  for (const [path, w] of headsWrappers(model)) {
    const parts: Array<[HeadPart, Module | undefined]> = [
      ['copy', w.modules_to_save.get(name)],
      ['extension', w.output_extensions.get(name)],
    ];
    for (const [part, m] of parts) {
      if (m) for (const [k, t] of m.stateDict()) out.push([`${path}/${part}/${k}`, t]);
    }
  }
  return out;
}

/**
 * Loads head tensors saved by {@link adapterHeadsState} into adapter `name`'s copies and extension.
 * Shapes are checked before anything is copied (`STATE_DICT_MISMATCH`); with `strict`, a part the
 * adapter has but the file lacks, or a part the file has but the adapter lacks, is an error too.
 */
export function loadAdapterHeadsState(
  model: Module,
  name: string,
  state: Map<string, Tensor>,
  opts: { strict?: boolean } = {},
): { missingKeys: string[]; unexpectedKeys: string[] } {
  const strict = opts.strict ?? true;
  const groups = new Map<string, Map<string, Tensor>>();
  for (const [key, t] of state) {
    const m = /^(.+)\/(copy|extension)\/(.+)$/.exec(key);
    check(
      m !== null,
      'CHECKPOINT_FORMAT',
      () => `adapter '${name}': head tensor key '${key}' is not <module path>/copy|extension/<state key>`,
    );
    const g = `${m[1]}/${m[2]}`;
    if (!groups.has(g)) groups.set(g, new Map());
    groups.get(g)!.set(m[3]!, t);
  }
  const owned = new Map<string, Module>();
  for (const [path, w] of headsWrappers(model)) {
    const copy = w.modules_to_save.get(name);
    const ext = w.output_extensions.get(name);
    if (copy) owned.set(`${path}/copy`, copy);
    if (ext) owned.set(`${path}/extension`, ext);
  }
  const missingKeys: string[] = [];
  const unexpectedKeys: string[] = [];
  for (const [g, m] of owned) {
    const sd = groups.get(g);
    for (const k of m.stateDict().keys()) if (!sd?.has(k)) missingKeys.push(`${g}/${k}`);
  }
  for (const [g, sd] of groups) {
    const own = owned.get(g)?.stateDict();
    for (const k of sd.keys()) if (!own?.has(k)) unexpectedKeys.push(`${g}/${k}`);
  }
  if (strict && (missingKeys.length || unexpectedKeys.length)) {
    throw new AdapterError(
      'STATE_DICT_MISMATCH',
      `adapter '${name}' heads:${missingKeys.length ? ` missing tensors: ${missingKeys.join(', ')};` : ''}${unexpectedKeys.length ? ` unexpected tensors: ${unexpectedKeys.join(', ')};` : ''} the file's heads do not match the adapter's config`,
      { missingKeys, unexpectedKeys },
    );
  }
  // Check every shape before copying anything.
  for (const [g, sd] of groups) {
    const own = owned.get(g)?.stateDict();
    for (const [k, v] of sd) {
      const t = own?.get(k);
      check(
        !t || (v.shape.length === t.shape.length && v.shape.every((d, i) => d === t.shape[i])),
        'STATE_DICT_MISMATCH',
        () =>
          `adapter '${name}': size mismatch for head tensor '${g}/${k}': the file holds [${v.shape.join(', ')}], the adapter's is [${t!.shape.join(', ')}]`,
        () => ({ key: `${g}/${k}` }),
      );
    }
  }
  for (const [g, sd] of groups) owned.get(g)?.loadStateDict(sd, { strict: false });
  return { missingKeys, unexpectedKeys };
}
