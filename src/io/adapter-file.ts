/**
 * The library's adapter file (SPEC §2.11, what NeMo's `save_adapters` writes as a torch pickle): a
 * safetensors container holding only the adapters' tensors, plus their normalised configs, the
 * module each belongs to, and an index of fragments (one per host holding the adapter).
 */
import type { Tensor } from '../backend/tf.js';
import { isAdapterHost } from '../adapters/host-brand.js';
import type { AdapterHostModule } from '../adapters/host.js';
import type { AdapterModelModule } from '../adapters/model.js';
import type { AdapterConfig, AdaptersConfig } from '../adapters/types.js';
import { COMPOSITION_KEY } from '../adapters/composition/state.js';
import { compositionForSave, restoreComposition } from '../adapters/composition/model-composition.js';
import { adapterHeadsState, loadAdapterHeadsState } from '../adapters/heads/model-heads.js';
import { AdapterError, check, isPlainObject } from '../errors.js';
import type { Module } from '../nn/module.js';
import { parseSafetensors } from './safetensors.js';
import { safetensorsFromTensors, tensorFromEntry } from './safetensors-tf.js';

/** `__metadata__.format` of adapter files. */
export const ADAPTER_FILE_FORMAT = 'adapter-set';
/** `__metadata__.version` of adapter files this library writes and reads. */
export const ADAPTER_FILE_VERSION = '1';

/** Options of {@link loadAdapters}. */
export interface LoadAdaptersOptions {
  /** Adapters to load (bare or `module:` names); default: every entry in the file. */
  names?: string | string[];
  /** Missing or unexpected tensors are errors (default true). Shape mismatches always are. */
  strict?: boolean;
  /** Load adapters under new names: `{ nameInFile: newName }`. */
  rename?: Record<string, string>;
}

/** What {@link loadAdapters} did. */
export interface LoadAdaptersResult {
  /** The names the adapters were added under, in load order. */
  loaded: string[];
  /** Tensors the adapters expected but the file lacked (non-empty only with `strict: false`). */
  missingKeys: string[];
  /** Tensors the file held that the adapters do not have (non-empty only with `strict: false`). */
  unexpectedKeys: string[];
}

function asModel(model: Module): AdapterModelModule {
  check(
    typeof (model as Partial<AdapterModelModule>).adapterNames === 'function',
    'INVALID_INPUT',
    () => `${model.typeName} is not an adapter model (build it with withAdapterModel or makeAdapterModel)`,
  );
  return model as AdapterModelModule;
}

/** Hosts holding `adapterName` in their own `adapter_layer`, in `namedModules()` order. */
function holders(model: Module, adapterName: string): AdapterHostModule[] {
  return model
    .namedModules()
    .filter(([, m]) => isAdapterHost(m) && (m as AdapterHostModule).peekAdapterLayer()?.has(adapterName))
    .map(([, m]) => m as AdapterHostModule);
}

/** One adapter's entries of a host's `adapter_layer` state dict; keys keep the `<adapter>.` prefix. */
function fragment(host: AdapterHostModule, adapterName: string): Array<[string, Tensor]> {
  const prefix = `${adapterName}.`; // exact: 'ad' never captures 'ad2.*' (NeMo matched substrings)
  return [...host.adapterLayer.stateDict()].filter(([k]) => k.startsWith(prefix));
}

function entryKey(moduleSpec: string, adapterName: string): string {
  return moduleSpec ? `${moduleSpec}:${adapterName}` : adapterName;
}

/**
 * Serialises adapters `names` (default: every adapter) of `model` into an adapter file.
 * Same model state → byte-identical output.
 */
export function saveAdapters(model: Module, names?: string | string[]): Uint8Array {
  const m = asModel(model);
  const all = m.adapterNames();
  check(
    all.length > 0,
    'NO_ADAPTERS',
    () => `saveAdapters: ${m.typeName} has no adapters; add one with addAdapter() first`,
  );
  const selected =
    names === undefined
      ? all
      : (Array.isArray(names) ? names : [names]).map((n) => {
          const [, adapterName] = m.resolveAdapterModuleName(n);
          check(
            all.includes(adapterName),
            'UNKNOWN_ADAPTER',
            () => `saveAdapters: unknown adapter '${n}'; existing adapters: ${all.join(', ')}`,
            () => ({ name: n, valid: all }),
          );
          return adapterName;
        });
  const adapters = m.cfg.adapters!;
  const meta = adapters.globalCfg?.adapterMetaCfg ?? { modules: {}, order: [] };
  const ordered = all.filter((n) => selected.includes(n));
  const { adapterMetaCfg: _drop, [COMPOSITION_KEY]: _composition, ...ownGlobal } = adapters.globalCfg ?? {};
  const config: AdaptersConfig = {
    globalCfg: {
      ...structuredClone(ownGlobal),
      adapterMetaCfg: {
        modules: Object.fromEntries(ordered.map((n) => [n, meta.modules[n] ?? ''])),
        order: ordered,
      },
    },
  };
  const tensors: Array<[string, Tensor]> = [];
  const index: Record<string, string[][]> = {};
  const headsIndex: Record<string, string[]> = {};
  for (const name of ordered) {
    config[name] = structuredClone(adapters[name]);
    const key = entryKey(meta.modules[name] ?? '', name);
    index[key] = holders(m, name).map((host, i) =>
      fragment(host, name).map(([stateKey, t]) => {
        const tensorName = `${key}/${i}/${stateKey}`;
        tensors.push([tensorName, t]);
        return tensorName;
      }),
    );
    // Module copies and output extensions the adapter owns (SPEC §5.2), named under its entry.
    const heads = adapterHeadsState(m, name);
    if (heads.length) {
      headsIndex[key] = heads.map(([headKey, t]) => {
        const tensorName = `${key}/heads/${headKey}`;
        tensors.push([tensorName, t]);
        return tensorName;
      });
    }
  }
  // Composition (setup and fusion layers) over the saved adapters; files without it are unchanged.
  const composition = compositionForSave(m, ordered);
  if (composition.config) config.globalCfg![COMPOSITION_KEY] = composition.config;
  tensors.push(...composition.tensors);
  return safetensorsFromTensors(tensors, {
    metadata: {
      format: ADAPTER_FILE_FORMAT,
      version: ADAPTER_FILE_VERSION,
      config: JSON.stringify(config),
      index: JSON.stringify(index),
      ...(composition.tensors.length ? { fusionIndex: JSON.stringify(composition.index) } : {}),
      ...(Object.keys(headsIndex).length ? { headsIndex: JSON.stringify(headsIndex) } : {}),
    },
    source: 'adapter file',
  });
}

interface ParsedAdapterFile {
  config: AdaptersConfig;
  index: Record<string, string[][]>;
  /** Fusion layer name → tensor names per host (files with fusion layers only). */
  fusionIndex: Record<string, string[][]>;
  /** Entry key → the names of its head tensors (files with adapter-owned heads only). */
  headsIndex: Record<string, string[]>;
  file: ReturnType<typeof parseSafetensors>;
}

function formatError(source: string, msg: string): AdapterError {
  return new AdapterError('CHECKPOINT_FORMAT', `${source}: ${msg}`, { source });
}

/** Parses and validates an adapter file (container, metadata, index) without touching any model. */
export function parseAdapterFile(bytes: Uint8Array, source = 'adapter file'): ParsedAdapterFile {
  const file = parseSafetensors(bytes, source);
  const md = file.metadata ?? {};
  if (md.format !== ADAPTER_FILE_FORMAT) {
    throw formatError(
      source,
      `not an adapter file: __metadata__.format is ${JSON.stringify(md.format)}, expected "${ADAPTER_FILE_FORMAT}" (PEFT directories load with PeftModel.loadPretrained)`,
    );
  }
  if (md.version !== ADAPTER_FILE_VERSION) {
    throw formatError(
      source,
      `unsupported adapter file version ${JSON.stringify(md.version)}; this library reads version ${ADAPTER_FILE_VERSION}`,
    );
  }
  const parseJson = (field: 'config' | 'index' | 'fusionIndex' | 'headsIndex'): unknown => {
    try {
      return JSON.parse(md[field] ?? '');
    } catch {
      throw formatError(source, `__metadata__.${field} is not valid JSON`);
    }
  };
  const config = parseJson('config');
  const index = parseJson('index');
  if (!isPlainObject(config)) throw formatError(source, '__metadata__.config must be a JSON object');
  if (!isPlainObject(index)) throw formatError(source, '__metadata__.index must be a JSON object');
  const listed = new Set<string>();
  for (const [key, fragments] of Object.entries(index)) {
    const ok =
      Array.isArray(fragments) &&
      fragments.every((f) => Array.isArray(f) && f.every((n) => typeof n === 'string'));
    if (!ok) throw formatError(source, `index entry '${key}' must be a list of tensor-name lists`);
    for (const name of (fragments as string[][]).flat()) {
      if (!file.tensors.has(name))
        throw formatError(
          source,
          `index entry '${key}' names tensor '${name}', which the file does not hold`,
        );
      listed.add(name);
    }
    const adapterName = key.slice(key.indexOf(':') + 1);
    if (!isPlainObject(config[adapterName]))
      throw formatError(source, `no config stored for adapter '${adapterName}'`);
  }
  const fusionIndex = md.fusionIndex === undefined ? {} : parseJson('fusionIndex');
  if (!isPlainObject(fusionIndex))
    throw formatError(source, '__metadata__.fusionIndex must be a JSON object');
  for (const [key, fragments] of Object.entries(fusionIndex)) {
    const ok =
      Array.isArray(fragments) &&
      fragments.every((f) => Array.isArray(f) && f.every((n) => typeof n === 'string'));
    if (!ok) throw formatError(source, `fusionIndex entry '${key}' must be a list of tensor-name lists`);
    for (const name of (fragments as string[][]).flat()) {
      if (!file.tensors.has(name))
        throw formatError(
          source,
          `fusionIndex entry '${key}' names tensor '${name}', which the file does not hold`,
        );
      listed.add(name);
    }
  }
  const headsIndex = md.headsIndex === undefined ? {} : parseJson('headsIndex');
  if (!isPlainObject(headsIndex)) throw formatError(source, '__metadata__.headsIndex must be a JSON object');
  for (const [key, names] of Object.entries(headsIndex)) {
    if (!(key in index))
      throw formatError(source, `headsIndex entry '${key}' is not an adapter of the file's index`);
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string'))
      throw formatError(source, `headsIndex entry '${key}' must be a list of tensor names`);
    for (const name of names as string[]) {
      if (!name.startsWith(`${key}/heads/`) || !file.tensors.has(name))
        throw formatError(
          source,
          `headsIndex entry '${key}' names tensor '${name}', which the file does not hold under '${key}/heads/'`,
        );
      listed.add(name);
    }
  }
  const stray = [...file.tensors.keys()].filter((n) => !listed.has(n));
  if (stray.length) throw formatError(source, `tensors not listed in the index: ${stray.join(', ')}`);
  return {
    config: config as AdaptersConfig,
    index: index as Record<string, string[][]>,
    fusionIndex: fusionIndex as Record<string, string[][]>,
    headsIndex: headsIndex as Record<string, string[]>,
    file,
  };
}

/**
 * Adds the adapters stored in an adapter file to `model` and loads their weights. All requested
 * names are checked before any is added; any failure removes what this call added.
 */
export function loadAdapters(
  model: Module,
  bytes: Uint8Array,
  opts: LoadAdaptersOptions = {},
): LoadAdaptersResult {
  const m = asModel(model);
  const strict = opts.strict ?? true;
  const { config, index, fusionIndex, headsIndex, file } = parseAdapterFile(bytes);
  const fileModules = config.globalCfg?.adapterMetaCfg?.modules ?? {};
  const keys = Object.keys(index);
  const requested = opts.names === undefined ? keys : Array.isArray(opts.names) ? opts.names : [opts.names];

  // Resolve every name against the file, and check the model does not hold it, before adding anything.
  const plan = requested.map((name) => {
    const key = name.includes(':') ? name : entryKey(fileModules[name] ?? '', name);
    check(
      key in index,
      'CHECKPOINT_KEY_MISSING',
      () => `loadAdapters: the file has no adapter '${name}'; it holds: ${keys.join(', ')}`,
      () => ({ name, valid: keys }),
    );
    const colon = key.indexOf(':');
    const spec = colon >= 0 ? key.slice(0, colon) : '';
    const adapterName = key.slice(colon + 1);
    const targetName = opts.rename?.[adapterName] ?? adapterName;
    const existing = m.adapterNames();
    check(
      !existing.includes(targetName),
      'DUPLICATE_ADAPTER',
      () =>
        `loadAdapters: the model already has adapter '${targetName}'; delete it first or load under another name with {rename}`,
      () => ({ name: targetName }),
    );
    return { adapterName, targetName, key, spec, cfg: config[adapterName] as AdapterConfig };
  });
  const targets = plan.map((p) => p.targetName);
  check(
    new Set(targets).size === targets.length,
    'DUPLICATE_ADAPTER',
    () => `loadAdapters: names requested twice: ${targets.join(', ')}`,
  );

  const added: string[] = [];
  const missingKeys: string[] = [];
  const unexpectedKeys: string[] = [];
  try {
    for (const p of plan) {
      m.addAdapter(p.spec ? `${p.spec}:${p.targetName}` : p.targetName, p.cfg);
      added.push(p.targetName);
      const hosts = holders(m, p.targetName);
      const fragments = index[p.key]!;
      check(
        hosts.length === fragments.length,
        'CHECKPOINT_MISMATCH',
        () =>
          `loadAdapters: adapter '${p.key}' has ${fragments.length} fragment(s) in the file but lands on ${hosts.length} module(s) of this model`,
        () => ({ name: p.key, fragments: fragments.length, hosts: hosts.length }),
      );
      hosts.forEach((host, i) => {
        const prefix = `${p.key}/${i}/${p.adapterName}.`;
        const sd = new Map<string, Tensor>();
        for (const tensorName of fragments[i]!) {
          // Strip only the leading "<adapter>." (adapter names contain no '.', so it is unambiguous).
          check(
            tensorName.startsWith(prefix),
            'CHECKPOINT_FORMAT',
            () => `adapter file: tensor '${tensorName}' does not belong to fragment ${i} of '${p.key}'`,
          );
          sd.set(
            tensorName.slice(prefix.length),
            tensorFromEntry(tensorName, file.tensors.get(tensorName)!, 'adapter file'),
          );
        }
        try {
          const r = host.getAdapterModule(p.targetName)!.loadStateDict(sd, { strict });
          missingKeys.push(...r.missingKeys.map((k) => `${p.targetName}.${k}`));
          unexpectedKeys.push(...r.unexpectedKeys.map((k) => `${p.targetName}.${k}`));
        } finally {
          for (const t of sd.values()) t.dispose();
        }
      });
      // Its module copies and output extension; the file must hold exactly what the config builds.
      const headsPrefix = `${p.key}/heads/`;
      const heads = new Map<string, Tensor>();
      for (const tensorName of headsIndex[p.key] ?? [])
        heads.set(
          tensorName.slice(headsPrefix.length),
          tensorFromEntry(tensorName, file.tensors.get(tensorName)!, 'adapter file'),
        );
      try {
        const r = loadAdapterHeadsState(m, p.targetName, heads, { strict });
        missingKeys.push(...r.missingKeys.map((k) => `${p.targetName}/heads/${k}`));
        unexpectedKeys.push(...r.unexpectedKeys.map((k) => `${p.targetName}/heads/${k}`));
      } finally {
        for (const t of heads.values()) t.dispose();
      }
    }
    // The setup and fusion layers saved with these adapters.
    restoreComposition(
      m,
      config.globalCfg?.[COMPOSITION_KEY],
      fusionIndex,
      added,
      (n) => opts.rename?.[n] ?? n,
      (names, prefix) => {
        const sd = new Map<string, Tensor>();
        for (const tensorName of names) {
          check(
            tensorName.startsWith(prefix),
            'CHECKPOINT_FORMAT',
            () => `adapter file: tensor '${tensorName}' does not belong to '${prefix}'`,
          );
          sd.set(
            tensorName.slice(prefix.length),
            tensorFromEntry(tensorName, file.tensors.get(tensorName)!, 'adapter file'),
          );
        }
        return sd;
      },
    );
  } catch (e) {
    for (const name of added.reverse()) m.deleteAdapter(name);
    throw e;
  }
  return { loaded: added, missingKeys, unexpectedKeys };
}
