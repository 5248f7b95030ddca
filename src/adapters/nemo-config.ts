/**
 * Conversion of NeMo-style adapter configs (Hydra `_target_` class paths, snake_case keys) into the
 * library's configs (`type` names, camelCase keys), SPEC §2.3.
 *
 * NeMo note: NeMo resolves `_target_` by importing the class path; the library never imports
 * anything, it looks the path up in {@link NEMO_CLASS_PATHS}.
 */
import { AdapterError, check, describeValue, isPlainObject } from '../errors.js';
import type { AdapterConfig, AdaptersConfig, StrategyConfig } from './types.js';

/** What a NeMo class path stands for. */
export interface NemoClassEntry {
  /** The library's registered type name. */
  type: string;
  /** Whether the class is an adapter network or a strategy. */
  kind: 'adapter' | 'strategy';
}

const COMMON_ADAPTERS = 'nemo.collections.common.parts.adapter_modules';
const ASR_ADAPTERS = 'nemo.collections.asr.parts.submodules.adapters';
const MHA_MODULE = `${ASR_ADAPTERS}.multi_head_attention_adapter_module`;
const TRANSFORMER_MHA_MODULE = `${ASR_ADAPTERS}.transformer_multi_head_attention_adapter_module`;
const STRATEGIES = 'nemo.core.classes.mixins.adapter_mixin_strategies';
const NLP_PARALLEL_ADAPTERS = 'nemo.collections.nlp.modules.common.megatron.adapters.parallel_adapters';
/** The library's own classes that NeMo has no counterpart for. */
const LIBRARY_STRATEGIES = 'adapterkit.strategies';

/** NeMo classes by defining module: `[module, class name, type, kind, also re-exported by the ASR package]`. */
const CLASSES: ReadonlyArray<readonly [string, string, string, NemoClassEntry['kind'], boolean]> = [
  [COMMON_ADAPTERS, 'LinearAdapter', 'linear', 'adapter', false],
  [MHA_MODULE, 'MultiHeadAttentionAdapter', 'multiHeadAttention', 'adapter', true],
  [MHA_MODULE, 'RelPositionMultiHeadAttentionAdapter', 'relPositionMultiHeadAttention', 'adapter', true],
  [
    TRANSFORMER_MHA_MODULE,
    'TransformerMultiHeadAttentionAdapter',
    'transformerMultiHeadAttention',
    'adapter',
    true,
  ],
  [MHA_MODULE, 'PositionalEncodingAdapter', 'positionalEncoding', 'adapter', true],
  [MHA_MODULE, 'RelPositionalEncodingAdapter', 'relPositionalEncoding', 'adapter', true],
  // NeMo note: `MLPInfusedAdapter` is a clone of `InfusedAdapter` that NeMo runs even when disabled;
  // both map to `infused`, which honours the enabled flag.
  [NLP_PARALLEL_ADAPTERS, 'InfusedAdapter', 'infused', 'adapter', false],
  [NLP_PARALLEL_ADAPTERS, 'MLPInfusedAdapter', 'infused', 'adapter', false],
  [STRATEGIES, 'ResidualAddAdapterStrategy', 'residualAdd', 'strategy', false],
  [STRATEGIES, 'ReturnResultAdapterStrategy', 'returnResult', 'strategy', false],
  [MHA_MODULE, 'MHAResidualAddAdapterStrategy', 'mhaResidualAdd', 'strategy', true],
  // NeMo names point-wise multiplication as a composition function but ships no strategy for it.
  [LIBRARY_STRATEGIES, 'MultiplicativeAdapterStrategy', 'multiplicative', 'strategy', false],
];

function buildClassPaths(): Readonly<Record<string, Readonly<NemoClassEntry>>> {
  const out: Record<string, Readonly<NemoClassEntry>> = {};
  for (const [mod, cls, type, kind, reexported] of CLASSES) {
    const entry = Object.freeze({ type, kind });
    // The class itself and its `…Config` dataclass (NeMo defines one for every class listed).
    for (const name of [cls, `${cls}Config`]) {
      out[`${mod}.${name}`] = entry;
      if (reexported) out[`${ASR_ADAPTERS}.${name}`] = entry;
    }
  }
  return Object.freeze(out);
}

/**
 * Every NeMo class path `fromNemoConfig` understands → library type. Covers each class's defining
 * module, its `…Config` dataclass, and the `nemo.collections.asr.parts.submodules.adapters`
 * package re-exports.
 */
export const NEMO_CLASS_PATHS: Readonly<Record<string, Readonly<NemoClassEntry>>> = buildClassPaths();

/**
 * The library type for a bare NeMo class name (`'LinearAdapter'`, `'MHAResidualAddAdapterStrategy'`,
 * or a `…Config` name), or undefined.
 */
export function nemoClassNameToType(className: string): NemoClassEntry | undefined {
  for (const [path, entry] of Object.entries(NEMO_CLASS_PATHS)) {
    if (path.endsWith(`.${className}`)) return entry;
  }
  return undefined;
}

/** snake_case keys whose camelCase name is not the mechanical conversion. */
const KEY_RENAMES: Readonly<Record<string, string>> = Object.freeze({
  use_pytorch_sdpa: 'useFusedAttention',
});

/** `in_features` → `inFeatures`, with {@link KEY_RENAMES} applied first. */
export function nemoKeyToCamel(key: string): string {
  return KEY_RENAMES[key] ?? key.replace(/_+([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function knownPaths(): string[] {
  return Object.keys(NEMO_CLASS_PATHS).sort();
}

function setOnce(
  out: Record<string, unknown>,
  key: string,
  value: unknown,
  where: string,
  original: string,
): void {
  check(
    !(key in out),
    'INVALID_CONFIG',
    () => `${where}: key '${original}' maps to '${key}', which is already set`,
    () => ({ field: original }),
  );
  out[key] = value;
}

function convertTarget(
  cfg: Record<string, unknown>,
  where: string,
  expected?: NemoClassEntry['kind'],
): Record<string, unknown> {
  const target = cfg._target_;
  check(
    typeof target === 'string',
    'INVALID_CONFIG',
    () => `${where}: '_target_' must be a NeMo class path string, got ${describeValue(target)}`,
  );
  const entry = NEMO_CLASS_PATHS[target];
  if (!entry) {
    throw new AdapterError(
      'UNKNOWN_TYPE',
      `${where}: unknown NeMo class path '${target}'; known paths: ${knownPaths().join(', ')}`,
      { target, valid: knownPaths() },
    );
  }
  check(
    expected === undefined || entry.kind === expected,
    'INVALID_CONFIG',
    () =>
      `${where}: '_target_' ${target} is ${entry.kind === 'adapter' ? 'an adapter' : 'a strategy'} class, expected ${expected === 'adapter' ? 'an adapter' : 'a strategy'}`,
  );
  const out: Record<string, unknown> = { type: entry.type };
  for (const [k, v] of Object.entries(cfg)) {
    if (k === '_target_') continue;
    if (k === 'use_pytorch_sdpa_backends') {
      // NeMo note: present (null) in every NeMo attention-adapter config; an empty list also means
      // "all backends" there. TensorFlow.js has no SDPA backends to choose from.
      if (v === null || v === undefined || (Array.isArray(v) && v.length === 0)) continue;
      throw new AdapterError(
        'INVALID_CONFIG',
        `${where}: use_pytorch_sdpa_backends ${JSON.stringify(v)} cannot be honoured (TensorFlow.js has no SDPA backends); remove it or set it to null`,
        { field: 'use_pytorch_sdpa_backends', value: v },
      );
    }
    const key = nemoKeyToCamel(k);
    if (k === 'adapter_strategy' || key === 'adapterStrategy') {
      let strategy: unknown = null;
      if (v !== null && v !== undefined) {
        check(
          isPlainObject(v),
          'INVALID_CONFIG',
          () =>
            `${where}: '${k}' must be a strategy config with a '_target_', or null; got ${describeValue(v)}`,
        );
        strategy = convertTarget(v, `${where}.${k}`, 'strategy');
      }
      setOnce(out, 'adapterStrategy', strategy, where, k);
      continue;
    }
    setOnce(out, key, structuredClone(v), where, k);
  }
  return out;
}

function convertGlobalCfg(g: unknown, where: string): Record<string, unknown> {
  check(isPlainObject(g), 'INVALID_CONFIG', () => `${where}: expected an object, got ${describeValue(g)}`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(g)) {
    const key = nemoKeyToCamel(k);
    if (key === 'adapterMetaCfg' && isPlainObject(v)) {
      // `modules` maps adapter names (data, kept verbatim) to module names.
      const meta: Record<string, unknown> = {};
      for (const [mk, mv] of Object.entries(v))
        setOnce(meta, nemoKeyToCamel(mk), structuredClone(mv), `${where}.${k}`, mk);
      setOnce(out, key, meta, where, k);
    } else {
      setOnce(out, key, structuredClone(v), where, k);
    }
  }
  return out;
}

/**
 * Converts a NeMo-style config into the library's form. The input is never mutated.
 *
 * - An object with `_target_` (an adapter or strategy config): the class path becomes `type` through
 *   {@link NEMO_CLASS_PATHS} (also for a nested `adapter_strategy`); snake_case keys become camelCase
 *   (`in_features` → `inFeatures`, `use_pytorch_sdpa` → `useFusedAttention`, …);
 *   `use_pytorch_sdpa_backends` is dropped when null (or empty), any other value → `INVALID_CONFIG`.
 * - An object without `_target_` is read as an adapters section (`cfg.adapters`): each entry other
 *   than `global_cfg` is an adapter config keyed by its (unchanged) name; `global_cfg` becomes
 *   `globalCfg` with camelCase keys (`adapter_meta_cfg` → `adapterMetaCfg`, whose `modules` keeps
 *   adapter names as they are).
 *
 * Values are copied, not validated: `buildAdapter`/`addAdapter` validate the result.
 *
 * @param obj - A NeMo adapter/strategy config, or an adapters section.
 * @returns The converted config.
 * @throws AdapterError `UNKNOWN_TYPE` for an unknown `_target_` (listing the known paths);
 *   `INVALID_CONFIG` for a non-object, a non-null `use_pytorch_sdpa_backends`, a strategy path where
 *   an adapter is expected (or the reverse), or two keys mapping to the same name.
 * @example
 * ```ts
 * fromNemoConfig({
 *   _target_: 'nemo.collections.common.parts.adapter_modules.LinearAdapter',
 *   in_features: 256, dim: 32, norm_position: 'pre',
 *   adapter_strategy: { _target_: 'nemo.core.classes.mixins.adapter_mixin_strategies.ResidualAddAdapterStrategy', stochastic_depth: 0, l2_lambda: 0 },
 * });
 * // → { type: 'linear', inFeatures: 256, dim: 32, normPosition: 'pre', adapterStrategy: { type: 'residualAdd', stochasticDepth: 0, l2Lambda: 0 } }
 * ```
 */
export function fromNemoConfig(obj: unknown): AdapterConfig | StrategyConfig | AdaptersConfig {
  const where = 'fromNemoConfig';
  check(
    isPlainObject(obj),
    'INVALID_CONFIG',
    () =>
      `${where}: expected a NeMo config object (with '_target_') or an adapters section, got ${describeValue(obj)}`,
  );
  if ('_target_' in obj) return convertTarget(obj, where) as AdapterConfig | StrategyConfig;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'global_cfg' || k === 'globalCfg') {
      setOnce(out, 'globalCfg', convertGlobalCfg(v, `${where}.${k}`), where, k);
      continue;
    }
    check(
      isPlainObject(v) && '_target_' in v,
      'INVALID_CONFIG',
      () =>
        `${where}: expected a config with '_target_' or an adapters section of such configs; entry '${k}' is ${isPlainObject(v) ? "an object without '_target_'" : describeValue(v)}`,
      () => ({ field: k }),
    );
    out[k] = convertTarget(v, `${where}: adapter '${k}'`, 'adapter');
  }
  return out as AdaptersConfig;
}
