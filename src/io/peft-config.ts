/**
 * Translation between the library's wrapper configs (`lora`, `ia3`, camelCase) and PEFT's
 * `adapter_config.json` (SPEC §4.3 "Writing adapter_config.json" and "Reading adapter_config.json").
 *
 * Writing produces exactly the key set PEFT writes for the same settings, serialised as PEFT does
 * (`json.dumps(…, indent=2, sort_keys=True)`: keys sorted at every level, two-space indentation,
 * non-ASCII characters escaped). Reading validates the file, maps PEFT keys to library fields, drops
 * unknown keys with one warning and refuses known features the library cannot honour.
 */
import type { Ia3Config, NormalizedIa3Config } from '../adapters/ia3/config.js';
import type { LoraConfig, NormalizedLoraConfig } from '../adapters/lora/config.js';
import type { ModelTargetHints } from '../adapters/tuners/targets.js';
import type { NormalizedWrapperConfig, WrapperConfig } from '../adapters/tuners/registry.js';
import { AdapterError, check, describeValue, isPlainObject } from '../errors.js';
import { logger } from '../logger.js';
import type { Module } from '../nn/module.js';

/** PEFT types this library reads and writes. */
export const PEFT_TYPES = ['LORA', 'IA3'] as const;
/** A PEFT type this library reads and writes. */
export type PeftType = (typeof PEFT_TYPES)[number];

/** PEFT's task types (`TaskType`), accepted by `savePretrained({taskType})`. */
export const PEFT_TASK_TYPES = [
  'SEQ_CLS',
  'SEQ_2_SEQ_LM',
  'CAUSAL_LM',
  'TOKEN_CLS',
  'QUESTION_ANS',
  'FEATURE_EXTRACTION',
] as const;

/** `auto_mapping` as PEFT writes it for custom (non-task) models, in the library's naming. */
export interface PeftAutoMapping {
  /** The base model's class name (PEFT: `base_model_class`). */
  baseModelClass: string;
  /** The module the class comes from (PEFT: `parent_library`). */
  parentLibrary: string;
}

/** The PEFT keys every config holds besides the method's own options. */
const META_KEYS = [
  'auto_mapping',
  'base_model_name_or_path',
  'inference_mode',
  'peft_type',
  'peft_version',
  'revision',
  'task_type',
] as const;

/** LoRA options: PEFT key → library field (SPEC §4.1 table). */
const LORA_OPTION_KEYS: Readonly<Record<string, keyof NormalizedLoraConfig>> = {
  r: 'r',
  lora_alpha: 'loraAlpha',
  lora_dropout: 'loraDropout',
  target_modules: 'targetModules',
  exclude_modules: 'excludeModules',
  layers_to_transform: 'layersToTransform',
  layers_pattern: 'layersPattern',
  rank_pattern: 'rankPattern',
  alpha_pattern: 'alphaPattern',
  fan_in_fan_out: 'fanInFanOut',
  bias: 'bias',
  use_rslora: 'useRslora',
  modules_to_save: 'modulesToSave',
  lora_bias: 'loraBias',
  init_lora_weights: 'initLoraWeights',
  use_dora: 'useDora',
};

/** IA³ options: PEFT key → library field. */
const IA3_OPTION_KEYS: Readonly<Record<string, keyof NormalizedIa3Config>> = {
  target_modules: 'targetModules',
  feedforward_modules: 'feedforwardModules',
  exclude_modules: 'excludeModules',
  fan_in_fan_out: 'fanInFanOut',
  modules_to_save: 'modulesToSave',
  init_ia3_weights: 'initIa3Weights',
};

/**
 * PEFT LoRA keys for features the library cannot honour, with PEFT's defaults. A file holding any
 * other value is refused (`UNSUPPORTED_FEATURE`); they are written at these defaults.
 */
export const PEFT_LORA_UNSUPPORTED_DEFAULTS: Readonly<Record<string, unknown>> = {
  layer_replication: null,
  target_parameters: null,
  use_qalora: false,
  trainable_token_indices: null,
  megatron_config: null,
  alora_invocation_tokens: null,
  velora_config: null,
  monteclora_config: null,
  use_bdlora: null,
  arrow_config: null,
  kasa_config: null,
};

/**
 * PEFT LoRA keys that have no effect once the weights come from a file (they configure inits the
 * reader refuses, or features that are off), with PEFT's defaults. Read values are kept and written
 * back for the same adapter, so a round trip preserves them.
 */
export const PEFT_LORA_INERT_DEFAULTS: Readonly<Record<string, unknown>> = {
  megatron_core: 'megatron.core',
  loftq_config: {},
  eva_config: null,
  corda_config: null,
  lora_ga_config: null,
  qalora_group_size: 16,
  ensure_weight_tying: false,
};

/** `init_lora_weights` values the reader accepts (others rewrite base weights at load). */
const READABLE_INITS: readonly unknown[] = [true, false, 'gaussian'];

/** Config file name inside a PEFT directory. */
export const PEFT_CONFIG_FILE = 'adapter_config.json';

/** What a config file says beyond the library config; written back by `savePretrained`. */
export interface PeftConfigExtras {
  baseModelNameOrPath: string | null;
  revision: string | null;
  taskType: string | null;
  /** Non-default values of {@link PEFT_LORA_INERT_DEFAULTS} keys, by PEFT key. */
  inert: Record<string, unknown>;
}

/** Values `savePretrained` writes besides the adapter's own options. */
export interface PeftConfigMeta {
  taskType: string | null;
  baseModelNameOrPath: string | null;
  revision: string | null;
  autoMapping: PeftAutoMapping | null;
  peftVersion?: string | undefined;
  inert?: Record<string, unknown>;
}

function sortedIfList<T>(v: T): T {
  return (Array.isArray(v) ? [...v].sort(compareCodePoints) : v) as T;
}

/**
 * The `adapter_config.json` object PEFT writes for `cfg` (an adapter's normalised config with model
 * defaults filled in), with `meta` for the keys every config holds.
 */
export function peftConfigObject(
  cfg: NormalizedWrapperConfig,
  meta: PeftConfigMeta,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    auto_mapping:
      meta.taskType === null && meta.autoMapping
        ? {
            base_model_class: meta.autoMapping.baseModelClass,
            parent_library: meta.autoMapping.parentLibrary,
          }
        : null,
    base_model_name_or_path: meta.baseModelNameOrPath,
    inference_mode: true,
    revision: meta.revision,
    task_type: meta.taskType,
  };
  if (meta.peftVersion !== undefined) out.peft_version = meta.peftVersion;
  if (cfg.type === 'ia3') {
    out.peft_type = 'IA3';
    for (const [key, fieldName] of Object.entries(IA3_OPTION_KEYS))
      out[key] = structuredClone(cfg[fieldName]);
    out.feedforward_modules = sortedIfList(out.feedforward_modules);
  } else {
    out.peft_type = 'LORA';
    for (const [key, fieldName] of Object.entries(LORA_OPTION_KEYS))
      out[key] = structuredClone(cfg[fieldName]);
    // Library-only inits have no PEFT name; the weights come from the file, so PEFT's default is right.
    if (typeof cfg.initLoraWeights === 'string' && cfg.initLoraWeights !== 'gaussian')
      out.init_lora_weights = true;
    Object.assign(
      out,
      structuredClone(PEFT_LORA_UNSUPPORTED_DEFAULTS),
      structuredClone(PEFT_LORA_INERT_DEFAULTS),
    );
    for (const [k, v] of Object.entries(meta.inert ?? {}))
      if (Object.hasOwn(PEFT_LORA_INERT_DEFAULTS, k)) out[k] = structuredClone(v);
  }
  for (const key of ['target_modules', 'exclude_modules', 'modules_to_save'] as const)
    out[key] = sortedIfList(out[key]);
  return out;
}

/** Compares strings by Unicode code point (Python's `str` order, used by `sort_keys`). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

/** A JSON string literal with every non-ASCII code unit escaped (Python's `ensure_ascii`). */
function asciiString(s: string): string {
  return JSON.stringify(s).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Serialises `value` as Python's `json.dumps(value, indent=2, sort_keys=True)` does: object keys
 * sorted by code point at every level, two-space indentation, `", "`/`": "` separators, non-ASCII
 * escaped, no trailing newline. Non-finite numbers → `INVALID_CONFIG` (they are not JSON).
 */
export function dumpPeftJson(value: unknown, indent = '', path = '$'): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    check(
      Number.isFinite(value),
      'INVALID_CONFIG',
      () => `${PEFT_CONFIG_FILE}: ${path} is ${value}, which JSON cannot hold`,
    );
    return JSON.stringify(value);
  }
  if (typeof value === 'string') return asciiString(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v, i) => inner + dumpPeftJson(v, inner, `${path}[${i}]`)).join(',\n')}\n${indent}]`;
  }
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort(compareCodePoints);
    if (keys.length === 0) return '{}';
    return `{\n${keys.map((k) => `${inner}${asciiString(k)}: ${dumpPeftJson(value[k], inner, `${path}.${k}`)}`).join(',\n')}\n${indent}}`;
  }
  throw new AdapterError(
    'INVALID_CONFIG',
    `${PEFT_CONFIG_FILE}: ${path} is ${describeValue(value)}, which JSON cannot hold`,
  );
}

/** The bytes of `adapter_config.json` for `cfg` and `meta`. */
export function serializePeftConfig(cfg: NormalizedWrapperConfig, meta: PeftConfigMeta): string {
  return dumpPeftJson(peftConfigObject(cfg, meta));
}

/** The result of {@link parsePeftConfig}. */
export interface ParsedPeftConfig {
  peftType: PeftType;
  /** The library config to build the adapter from. */
  config: WrapperConfig;
  extras: PeftConfigExtras;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return (
      ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
    );
  }
  return false;
}

/** For the keys whose PEFT default is `null` or `false`, both mean "off". */
function isDefault(key: string, value: unknown, dflt: unknown): boolean {
  if (deepEqual(value, dflt)) return true;
  return (
    (dflt === null || dflt === false) &&
    (value === null || value === false) &&
    (key === 'use_qalora' || key === 'use_bdlora')
  );
}

function stringOrNull(obj: Record<string, unknown>, key: string, where: string): string | null {
  const v = obj[key];
  if (v === undefined || v === null) return null;
  check(
    typeof v === 'string',
    'INVALID_CONFIG',
    () => `${where}: "${key}" must be a string or null, got ${describeValue(v)}`,
    () => ({ key, value: v }),
  );
  return v;
}

/**
 * Reads the parsed JSON of an `adapter_config.json` (SPEC §4.3 "Reading"):
 * - `peft_type` missing → `CHECKPOINT_FORMAT`; other than `LORA`/`IA3` → `UNSUPPORTED_FEATURE` listing them;
 * - absent keys take PEFT's defaults (the library's defaults are the same);
 * - unknown keys are dropped with one warning listing them all;
 * - a known key the library cannot honour with a non-default value, or `init_lora_weights` other
 *   than `true`/`false`/`"gaussian"` → `UNSUPPORTED_FEATURE` naming key and value;
 * - `target_modules` absent (or null) while `model` declares no default → `INVALID_CONFIG` asking for it.
 *
 * Option values are validated when the adapter is added (`INVALID_CONFIG` naming the PEFT key).
 *
 * @param json - The parsed file.
 * @param where - Label for messages (e.g. the file path).
 * @param model - The model the adapter is for (its `defaultLoraTargets` / `defaultIa3Targets` count as defaults).
 */
export function parsePeftConfig(json: unknown, where: string, model: Module | null): ParsedPeftConfig {
  check(
    isPlainObject(json),
    'CHECKPOINT_FORMAT',
    () => `${where}: expected a JSON object, got ${describeValue(json)}`,
    () => ({ source: where }),
  );
  check(
    Object.hasOwn(json, 'peft_type'),
    'CHECKPOINT_FORMAT',
    () =>
      `${where}: "peft_type" is missing; it is the one required key of a PEFT adapter config (supported: ${PEFT_TYPES.join(', ')})`,
    () => ({ source: where, key: 'peft_type' }),
  );
  const peftType = json.peft_type;
  if (!PEFT_TYPES.includes(peftType as PeftType)) {
    throw new AdapterError(
      'UNSUPPORTED_FEATURE',
      `${where}: peft_type ${JSON.stringify(peftType)} is not supported; supported PEFT types: ${PEFT_TYPES.join(', ')}`,
      { key: 'peft_type', value: peftType, valid: [...PEFT_TYPES] },
    );
  }
  const lora = peftType === 'LORA';
  const options: Readonly<Record<string, string>> = lora ? LORA_OPTION_KEYS : IA3_OPTION_KEYS;
  const unsupported = lora ? PEFT_LORA_UNSUPPORTED_DEFAULTS : {};
  const inertDefaults = lora ? PEFT_LORA_INERT_DEFAULTS : {};

  const unknown = Object.keys(json).filter(
    (k) =>
      !Object.hasOwn(options, k) &&
      !(META_KEYS as readonly string[]).includes(k) &&
      !Object.hasOwn(unsupported, k) &&
      !Object.hasOwn(inertDefaults, k),
  );
  if (unknown.length) {
    logger().warn(
      `${where}: ignoring unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (not ${peftType} config keys this library knows; written by a newer PEFT?)`,
    );
  }
  for (const [key, dflt] of Object.entries(unsupported)) {
    if (!Object.hasOwn(json, key) || isDefault(key, json[key], dflt)) continue;
    throw new AdapterError(
      'UNSUPPORTED_FEATURE',
      `${where}: ${key} = ${JSON.stringify(json[key])} is not supported by this library (PEFT default: ${JSON.stringify(dflt)}); it cannot be ignored safely`,
      { key, value: json[key] },
    );
  }
  if (lora && Object.hasOwn(json, 'init_lora_weights') && !READABLE_INITS.includes(json.init_lora_weights)) {
    throw new AdapterError(
      'UNSUPPORTED_FEATURE',
      `${where}: init_lora_weights = ${JSON.stringify(json.init_lora_weights)} is not supported when loading (it rewrites the base weights at load); supported: true, false, "gaussian"`,
      { key: 'init_lora_weights', value: json.init_lora_weights, valid: READABLE_INITS },
    );
  }
  const inert: Record<string, unknown> = {};
  for (const [key, dflt] of Object.entries(inertDefaults)) {
    if (!Object.hasOwn(json, key) || deepEqual(json[key], dflt)) continue;
    inert[key] = structuredClone(json[key]);
    if (key === 'ensure_weight_tying') {
      logger().warn(
        `${where}: ensure_weight_tying = ${JSON.stringify(json[key])} has no effect in this library (adapters on tied layers are not tied)`,
      );
    }
  }

  const config: Record<string, unknown> = { type: lora ? 'lora' : 'ia3' };
  for (const [key, fieldName] of Object.entries(options)) {
    if (!Object.hasOwn(json, key)) continue;
    let v = json[key];
    // PEFT treats a null pattern map as empty.
    if (v === null && (key === 'rank_pattern' || key === 'alpha_pattern')) v = {};
    config[fieldName] = structuredClone(v);
  }
  if (config.targetModules === undefined || config.targetModules === null) {
    const hints = (model ?? {}) as ModelTargetHints;
    const dflt = lora ? hints.defaultLoraTargets : hints.defaultIa3Targets;
    check(
      dflt !== undefined && dflt !== null,
      'INVALID_CONFIG',
      () =>
        `${where}: "target_modules" is missing and ${model?.typeName ?? 'the model'} declares no ${lora ? 'defaultLoraTargets' : 'defaultIa3Targets'}; add "target_modules": [...] (module names) to the config`,
      () => ({ key: 'target_modules' }),
    );
  }
  return {
    peftType: peftType as PeftType,
    config: config as unknown as LoraConfig | Ia3Config,
    extras: {
      baseModelNameOrPath: stringOrNull(json, 'base_model_name_or_path', where),
      revision: stringOrNull(json, 'revision', where),
      taskType: stringOrNull(json, 'task_type', where),
      inert,
    },
  };
}

/** Library field → PEFT key, for messages about a loaded config. */
const FIELD_TO_PEFT_KEY: Readonly<Record<string, string>> = Object.fromEntries([
  ...Object.entries(LORA_OPTION_KEYS).map(([k, f]) => [f, k]),
  ...Object.entries(IA3_OPTION_KEYS).map(([k, f]) => [f, k]),
]);

/**
 * Rewrites an `INVALID_CONFIG` raised while adding a loaded adapter so that it names the file and
 * PEFT's keys (`'loraAlpha'` → `'lora_alpha'`); other errors are returned unchanged.
 */
export function withPeftKeyNames(e: unknown, where: string): unknown {
  if (!(e instanceof AdapterError) || e.code !== 'INVALID_CONFIG') return e;
  const msg = e.message.replace(/'([A-Za-z0-9]+)'/g, (m, f: string) =>
    Object.hasOwn(FIELD_TO_PEFT_KEY, f) && FIELD_TO_PEFT_KEY[f] !== f
      ? `'${FIELD_TO_PEFT_KEY[f]}' (${f})`
      : m,
  );
  return new AdapterError(e.code, `${where}: ${msg}`, { ...e.details, source: where });
}
