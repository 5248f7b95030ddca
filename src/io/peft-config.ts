/**
 * Translation between the library's wrapper configs (camelCase) and PEFT's `adapter_config.json`
 * (SPEC §4.3 "Writing adapter_config.json" and "Reading adapter_config.json"), for every method with
 * a registered PEFT format (`peft-formats.ts`; LoRA and IA³ register theirs below).
 *
 * Writing produces exactly the key set PEFT writes for the same settings, serialised as PEFT does
 * (`json.dumps(…, indent=2, sort_keys=True)`: keys sorted at every level, two-space indentation,
 * non-ASCII characters escaped). Reading validates the file, maps PEFT keys to library fields, drops
 * unknown keys with one warning and refuses known features the library cannot honour.
 */
import type { NormalizedWrapperConfig, WrapperConfig } from '../adapters/tuners/registry.js';
import { AdapterError, check, describeValue, isPlainObject } from '../errors.js';
import { logger } from '../logger.js';
import type { Module } from '../nn/module.js';
// The built-in formats register themselves on import, LoRA first (the order messages list them in).
import { PEFT_LORA_INERT_DEFAULTS, PEFT_LORA_UNSUPPORTED_DEFAULTS } from './peft-format-lora.js';
import './peft-format-ia3.js';
import './peft-format-vera.js';
import { listPeftFormats, listPeftTypes, peftFormatForConfig, peftFormatForType } from './peft-formats.js';

export { PEFT_LORA_INERT_DEFAULTS, PEFT_LORA_UNSUPPORTED_DEFAULTS };

/** PEFT types of the formats built into this library (`listPeftTypes()` adds registered ones). */
export const PEFT_TYPES = ['LORA', 'IA3', 'VERA'] as const;
/** A PEFT type built into this library. */
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

/** Option keys every format's PEFT config stores as sets (written sorted). */
const SET_KEYS = ['target_modules', 'exclude_modules', 'modules_to_save'] as const;

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
  const format = peftFormatForConfig(cfg);
  out.peft_type = format.peftType;
  const fields: Readonly<Record<string, unknown>> = cfg;
  for (const [key, fieldName] of Object.entries(format.optionKeys))
    out[key] = structuredClone(fields[fieldName]);
  format.writeOptions?.(cfg, out);
  const inertDefaults = format.inertDefaults ?? {};
  Object.assign(out, structuredClone(format.unsupportedDefaults ?? {}), structuredClone(inertDefaults));
  for (const [k, v] of Object.entries(meta.inert ?? {}))
    if (Object.hasOwn(inertDefaults, k)) out[k] = structuredClone(v);
  for (const key of [...SET_KEYS, ...format.setKeys])
    if (Object.hasOwn(out, key)) out[key] = sortedIfList(out[key]); // VeRA has no exclude_modules
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
  /** A registered `peft_type` (`'LORA'`, `'IA3'`, …). */
  peftType: string;
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
 * - `peft_type` missing → `CHECKPOINT_FORMAT`; not a registered format (`LORA`, `IA3`, …) →
 *   `UNSUPPORTED_FEATURE` listing them;
 * - absent keys take PEFT's defaults (the library's defaults are the same);
 * - unknown keys are dropped with one warning listing them all;
 * - a known key the library cannot honour with a non-default value, or a value the format refuses
 *   (LoRA: `init_lora_weights` other than `true`/`false`/`"gaussian"`) → `UNSUPPORTED_FEATURE`
 *   naming key and value;
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
      `${where}: "peft_type" is missing; it is the one required key of a PEFT adapter config (supported: ${listPeftTypes().join(', ')})`,
    () => ({ source: where, key: 'peft_type' }),
  );
  const peftType = json.peft_type;
  const format = peftFormatForType(peftType);
  if (format === undefined) {
    throw new AdapterError(
      'UNSUPPORTED_FEATURE',
      `${where}: peft_type ${JSON.stringify(peftType)} is not supported; supported PEFT types: ${listPeftTypes().join(', ')}`,
      { key: 'peft_type', value: peftType, valid: listPeftTypes() },
    );
  }
  const options = format.optionKeys;
  const unsupported = format.unsupportedDefaults ?? {};
  const inertDefaults = format.inertDefaults ?? {};

  const unknown = Object.keys(json).filter(
    (k) =>
      !Object.hasOwn(options, k) &&
      !(META_KEYS as readonly string[]).includes(k) &&
      !Object.hasOwn(unsupported, k) &&
      !Object.hasOwn(inertDefaults, k),
  );
  if (unknown.length) {
    logger().warn(
      `${where}: ignoring unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (not ${format.peftType} config keys this library knows; written by a newer PEFT?)`,
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
  format.checkFile?.(json, where);
  const inert: Record<string, unknown> = {};
  for (const [key, dflt] of Object.entries(inertDefaults)) {
    if (!Object.hasOwn(json, key) || deepEqual(json[key], dflt)) continue;
    inert[key] = structuredClone(json[key]);
  }

  const fields: Record<string, unknown> = {};
  for (const [key, fieldName] of Object.entries(options)) {
    if (!Object.hasOwn(json, key)) continue;
    const v = json[key];
    fields[fieldName] = structuredClone(format.readOption ? format.readOption(key, v) : v);
  }
  if (fields.targetModules === undefined || fields.targetModules === null) {
    const hint = format.defaultTargetsHint;
    const dflt: unknown = model === null ? undefined : Reflect.get(model, hint);
    check(
      dflt !== undefined && dflt !== null,
      'INVALID_CONFIG',
      () =>
        `${where}: "target_modules" is missing and ${model?.typeName ?? 'the model'} declares no ${hint}; add "target_modules": [...] (module names) to the config`,
      () => ({ key: 'target_modules' }),
    );
  }
  const config: WrapperConfig = format.toConfig(fields);
  return {
    peftType: format.peftType,
    config,
    extras: {
      baseModelNameOrPath: stringOrNull(json, 'base_model_name_or_path', where),
      revision: stringOrNull(json, 'revision', where),
      taskType: stringOrNull(json, 'task_type', where),
      inert,
    },
  };
}

/** Library field → PEFT key over every registered format, for messages about a loaded config. */
function fieldToPeftKey(): Readonly<Record<string, string>> {
  return Object.fromEntries(
    listPeftFormats().flatMap((f) => Object.entries(f.optionKeys).map(([k, field]) => [field, k])),
  );
}

/**
 * Rewrites an `INVALID_CONFIG` raised while adding a loaded adapter so that it names the file and
 * PEFT's keys (`'loraAlpha'` → `'lora_alpha'`); other errors are returned unchanged.
 */
export function withPeftKeyNames(e: unknown, where: string): unknown {
  if (!(e instanceof AdapterError) || e.code !== 'INVALID_CONFIG') return e;
  const FIELD_TO_PEFT_KEY = fieldToPeftKey();
  const msg = e.message.replace(/'([A-Za-z0-9]+)'/g, (m, f: string) =>
    Object.hasOwn(FIELD_TO_PEFT_KEY, f) && FIELD_TO_PEFT_KEY[f] !== f
      ? `'${FIELD_TO_PEFT_KEY[f]}' (${f})`
      : m,
  );
  return new AdapterError(e.code, `${where}: ${msg}`, { ...e.details, source: where });
}
