/**
 * The type registry: config `type` name → constructor plus schema, for adapters and strategies.
 * NeMo note: NeMo resolves `_target_` class paths with Hydra; here short `type` names are looked up
 * in this registry (`fromNemoConfig` converts NeMo configs).
 */
import { z } from 'zod';
import { AdapterError, check, describeValue, isPlainObject, notOneOf } from '../errors.js';
import { Module } from '../nn/module.js';
import {
  describeConfigSchema,
  parseConfig,
  type ConfigObjectSchema,
  type TypeSchema,
} from './config-schema.js';
import type { AdapterConfig, AdapterStrategy, NormalizedAdapterConfig, StrategyConfig } from './types.js';

/** An adapter class: constructed from one options object. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each class takes its own options type; the registry parses options before constructing
export type AdapterClass = (new (options: any) => Module) & { readonly typeName: string };
/** A strategy class: constructed from one options object. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each class takes its own options type; the registry parses options before constructing
export type StrategyClass = new (options: any) => AdapterStrategy;

interface AdapterTypeEntry {
  type: string;
  ctor: AdapterClass;
  schema: ConfigObjectSchema;
  defaultStrategy: StrategyConfig;
}
interface StrategyTypeEntry {
  type: string;
  ctor: StrategyClass;
  schema: ConfigObjectSchema;
}

const adapterTypes = new Map<string, AdapterTypeEntry>();
const strategyTypes = new Map<string, StrategyTypeEntry>();

/**
 * The schema as registered: a zod object, made strict so an unknown field is `INVALID_CONFIG`
 * rather than silently dropped.
 */
function strictSchema(schema: unknown, where: string, required: readonly string[]): ConfigObjectSchema {
  check(
    schema instanceof z.ZodObject,
    'REGISTRY_CONFLICT',
    () =>
      `${where}: schema must be a zod object schema such as z.strictObject({type: z.string(), ...}), got ${describeValue(schema)}`,
  );
  const missing = required.filter((k) => !(k in schema.shape));
  check(
    missing.length === 0,
    'REGISTRY_CONFLICT',
    () =>
      `${where}: the schema has no ${missing.map((k) => `'${k}'`).join(' or ')} field; its fields: ${Object.keys(schema.shape).join(', ')}`,
  );
  return schema.strict();
}

/**
 * Registers an adapter type. The schema is a zod object (build fields with `configField`) whose
 * fields are the constructor's option names plus `type` and `enabled`.
 *
 * @example
 * ```ts
 * const mySchema = z.strictObject({
 *   type: configField.string(),
 *   enabled: configField.boolean().default(true),
 *   inFeatures: configField.positiveInt(),
 * });
 * registerAdapterType('myAdapter', { ctor: MyAdapter, schema: mySchema, defaultStrategy: { type: 'residualAdd' } });
 * ```
 */
export function registerAdapterType(
  name: string,
  entry: { ctor: AdapterClass; schema: ConfigObjectSchema; defaultStrategy: StrategyConfig },
): void {
  check(
    !adapterTypes.has(name) && !strategyTypes.has(name),
    'REGISTRY_CONFLICT',
    () => `type '${name}' is already registered`,
  );
  check(
    typeof entry.ctor === 'function' && entry.ctor.prototype instanceof Module,
    'REGISTRY_CONFLICT',
    () => `registerAdapterType('${name}'): ctor must be a Module subclass, got ${describeValue(entry.ctor)}`,
  );
  const schema = strictSchema(entry.schema, `registerAdapterType('${name}')`, ['type', 'enabled']);
  adapterTypes.set(name, { type: name, ctor: entry.ctor, schema, defaultStrategy: entry.defaultStrategy });
}

/** Registers a strategy type; its zod object schema's fields are the constructor's option names plus `type`. */
export function registerStrategyType(
  name: string,
  entry: { ctor: StrategyClass; schema: ConfigObjectSchema },
): void {
  check(
    !strategyTypes.has(name) && !adapterTypes.has(name),
    'REGISTRY_CONFLICT',
    () => `type '${name}' is already registered`,
  );
  check(
    typeof entry.ctor === 'function',
    'REGISTRY_CONFLICT',
    () => `registerStrategyType('${name}'): ctor must be a class, got ${describeValue(entry.ctor)}`,
  );
  const schema = strictSchema(entry.schema, `registerStrategyType('${name}')`, ['type']);
  strategyTypes.set(name, { type: name, ctor: entry.ctor, schema });
}

/** Registered adapter type names, in registration order. */
export function listAdapterTypes(): string[] {
  return [...adapterTypes.keys()];
}

/** Registered strategy type names, in registration order. */
export function listStrategyTypes(): string[] {
  return [...strategyTypes.keys()];
}

function adapterEntry(name: unknown, where: string): AdapterTypeEntry {
  const e = adapterTypes.get(name as string);
  if (!e) {
    throw new AdapterError(
      'UNKNOWN_TYPE',
      `${where}: ${notOneOf('adapter type', name, listAdapterTypes())}`,
      {
        type: name,
        valid: listAdapterTypes(),
      },
    );
  }
  return e;
}

function strategyEntry(name: unknown, where: string): StrategyTypeEntry {
  const e = strategyTypes.get(name as string);
  if (!e) {
    throw new AdapterError(
      'UNKNOWN_TYPE',
      `${where}: ${notOneOf('strategy type', name, listStrategyTypes())}`,
      {
        type: name,
        valid: listStrategyTypes(),
      },
    );
  }
  return e;
}

/** Schema of an adapter type. Unknown name → `UNKNOWN_TYPE` listing registered names. */
export function getAdapterTypeSchema(name: string): TypeSchema {
  return describeConfigSchema(adapterEntry(name, 'getAdapterTypeSchema').schema);
}

/** Schema of a strategy type. */
export function getStrategyTypeSchema(name: string): TypeSchema {
  return describeConfigSchema(strategyEntry(name, 'getStrategyTypeSchema').schema);
}

/** The class registered for an adapter type, or undefined. */
export function adapterClassOf(type: string): AdapterClass | undefined {
  return adapterTypes.get(type)?.ctor;
}

/** The registered type name whose class is exactly `cls`, if any. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any constructor, compared by identity only
export function adapterTypeOfClass(cls: abstract new (...args: any[]) => unknown): string | undefined {
  for (const [name, e] of adapterTypes) if (e.ctor === cls) return name;
  return undefined;
}

/** The default strategy config of an adapter type. */
export function defaultStrategyOf(type: string): StrategyConfig {
  return structuredClone(adapterEntry(type, 'defaultStrategyOf').defaultStrategy);
}

/**
 * Checks that `cfg` is a plain config object whose `type` is registered: the cheap checks that come
 * before everything else in `addAdapter`.
 */
export function checkConfigShape(cfg: unknown, where: string): asserts cfg is AdapterConfig {
  check(
    isPlainObject(cfg),
    'INVALID_CONFIG',
    () => `${where}: expected an adapter config object like {type: 'linear', ...}, got ${describeValue(cfg)}`,
  );
  check(
    cfg.type !== undefined,
    'INVALID_CONFIG',
    () => `${where}: the config has no 'type'; registered types: ${listAdapterTypes().join(', ')}`,
    () => ({ valid: listAdapterTypes() }),
  );
  adapterEntry(cfg.type, where);
}

/** Validates a strategy config and returns it with every default written out. */
export function parseStrategyConfig(cfg: unknown, where: string): StrategyConfig {
  check(
    isPlainObject(cfg),
    'INVALID_STRATEGY',
    () =>
      `${where}: expected a strategy config object, a strategy object with forward(), or null; got ${describeValue(cfg)}`,
  );
  check(
    cfg.type !== undefined,
    'INVALID_CONFIG',
    () =>
      `${where}: the strategy config has no 'type'; registered strategy types: ${listStrategyTypes().join(', ')}`,
  );
  const e = strategyEntry(cfg.type, where);
  return { ...parseConfig(e.schema, cfg, where), type: e.type };
}

/**
 * Validates an adapter config and returns a fresh, normalised copy: every default written out,
 * including `enabled` and the nested `adapterStrategy`. The caller's object is never touched.
 * `location` (an insertion point's name, any adapter type) is kept when given; the host checks it.
 */
export function parseAdapterConfig(cfg: unknown, where: string): NormalizedAdapterConfig {
  checkConfigShape(cfg, where);
  const e = adapterEntry(cfg.type, where);
  const { location, ...fields } = cfg;
  check(
    location === undefined || (typeof location === 'string' && location.length > 0),
    'INVALID_CONFIG',
    () =>
      `${where}: location must be the name of an insertion point of the host, got ${describeValue(location)}`,
    () => ({ field: 'location', value: location }),
  );
  const parsed = parseConfig(e.schema, fields, where);
  const out: NormalizedAdapterConfig = { ...parsed, type: e.type, enabled: parsed.enabled === true };
  if (location !== undefined) out.location = location;
  if ('adapterStrategy' in e.schema.shape) {
    const s = out.adapterStrategy;
    out.adapterStrategy =
      s === null || s === undefined
        ? parseStrategyConfig(e.defaultStrategy, `${where}.adapterStrategy`)
        : parseStrategyConfig(s, `${where}.adapterStrategy`);
  }
  return out;
}

/** Validates then constructs an adapter. `extra` is merged into the constructor options, not stored. */
export function buildAdapter(cfg: AdapterConfig, extra: Record<string, unknown> = {}): Module {
  const normalized = parseAdapterConfig(cfg, `buildAdapter(${JSON.stringify(cfg?.type)})`);
  return constructAdapter(normalized, extra);
}

/** Constructs an adapter from an already-normalised config. */
export function constructAdapter(
  normalized: NormalizedAdapterConfig,
  extra: Record<string, unknown> = {},
): Module {
  const { type, enabled: _enabled, location: _location, ...options } = normalized;
  const e = adapterEntry(type, 'buildAdapter');
  return new e.ctor({ ...structuredClone(options), ...extra });
}

/** Validates then constructs a strategy. */
export function buildStrategy(cfg: StrategyConfig): AdapterStrategy {
  const normalized = parseStrategyConfig(cfg, 'buildStrategy');
  const { type, ...options } = normalized;
  return new (strategyEntry(type, 'buildStrategy').ctor)(options);
}
