/**
 * Config fields and checks every tuner method's config shares (`lora`, `ia3`, …): the base schema
 * that method schemas extend ({@link tunerConfigBase}), target lists, the plain-object check, and
 * compiling regex-valued fields at parse time.
 */
import { z } from 'zod';
import { check, describeValue, isPlainObject } from '../../errors.js';
import { configField, parseConfig, type ConfigObjectSchema } from '../config-schema.js';
import { compilePattern } from './regex.js';

/** @internal A list of non-empty module names. */
export const moduleNameList = () => z.array(z.string().min(1));

/**
 * @internal A field checked by any zod type; `expects` words its accepted values in error messages.
 * Chain `.nullable()` and `.default(…)` as usual.
 */
export function customField<T extends z.ZodType>(schema: T, expects: string) {
  return configField.custom(schema, expects);
}

/** @internal Field: a list of module names or a regex string, nullable, default null. */
export const targetField = () =>
  customField(z.union([z.string().min(1), moduleNameList()]), 'a list of module names or a regex string')
    .nullable()
    .default(null);

/** @internal Field: the modules given a trainable per-adapter copy, nullable, default null. */
export const modulesToSaveField = () =>
  customField(moduleNameList(), 'a list of module names').nullable().default(null);

/** @internal Field: layer indices to keep (list targets only), nullable, default null. */
export const layersToTransformField = () =>
  customField(
    z.union([z.number().int().min(0), z.array(z.number().int().min(0))]),
    'a layer index ≥ 0 or a list of them',
  )
    .nullable()
    .default(null);

/** @internal Field: name(s) of the layer container whose index `layersToTransform` filters, nullable, default null. */
export const layersPatternField = () =>
  customField(z.union([z.string().min(1), moduleNameList()]), 'a pattern string or a list of them')
    .nullable()
    .default(null);

/** @internal Field: the wrapped weight is stored `[in, out]`, default false. */
export const fanInFanOutField = () => configField.boolean().default(false);

/**
 * The fields every tuner config has. A method's schema extends it, narrowing `type` to its name:
 * `tunerConfigBase.extend({type: z.literal('vera'), r: …})`.
 */
export const tunerConfigBase = z.strictObject({
  /** The method's registered name. */
  type: z.string().min(1),
  /** Targets, null until model defaults are filled in. */
  targetModules: targetField(),
  /** List or regex of modules never targeted. */
  excludeModules: targetField(),
  /** Modules given a trainable per-adapter copy. */
  modulesToSave: modulesToSaveField(),
});

/**
 * Fields the core reads when a method's config has them: layer filtering (`layersToTransform`,
 * `layersPattern`) and the `[in, out]` weight layout of methods wrapping linears (`fanInFanOut`).
 */
export const tunerConfigOptionalFields = z.strictObject({
  fanInFanOut: fanInFanOutField(),
  layersToTransform: layersToTransformField(),
  layersPattern: layersPatternField(),
});

/** A list of module names (suffix match at `.` boundaries) or one full-match regex. */
export type TargetSpec = NonNullable<z.output<typeof tunerConfigBase>['targetModules']>;

/** Checks that `cfg` is a plain object (shared by every tuner config). */
export function checkWrapperConfigObject(
  cfg: unknown,
  where: string,
): asserts cfg is Record<string, unknown> {
  check(
    isPlainObject(cfg),
    'INVALID_CONFIG',
    () =>
      `${where}: expected a config object like {type: <method name>, targetModules: [...]}, got ${describeValue(cfg)}`,
  );
}

/**
 * Validates a method's config against its schema and returns a fresh normalised copy (the
 * caller's object is never touched); the method then runs its cross-field checks.
 */
export function parseTunerConfig<S extends ConfigObjectSchema>(
  schema: S,
  cfg: unknown,
  where: string,
): z.output<S> {
  checkWrapperConfigObject(cfg, where);
  const out = structuredClone(parseConfig(schema, cfg, where)) as z.output<S> & { targetModules?: unknown };
  // PEFT's configs turn a list of target names into a set.
  if (Array.isArray(out.targetModules)) out.targetModules = [...new Set(out.targetModules)];
  return out;
}

/** Compiles every regex-valued field so a bad pattern fails at parse time (`INVALID_CONFIG`). */
export function checkPatterns(
  cfg: { targetModules?: unknown; excludeModules?: unknown },
  where: string,
): void {
  if (typeof cfg.targetModules === 'string' && cfg.targetModules !== 'all-linear') {
    compilePattern(cfg.targetModules, `${where}: targetModules`);
  }
  if (typeof cfg.excludeModules === 'string') compilePattern(cfg.excludeModules, `${where}: excludeModules`);
}

/**
 * PEFT's cross-field rules of layer selection (`__post_init__` of every config that has it):
 * `layersToTransform` needs list targets, `layersPattern` needs `layersToTransform`; also compiles
 * every pattern (`targetModules`, `excludeModules`, `layersPattern`) so a bad one fails at parse time.
 */
export function checkLayerSelection(
  out: {
    targetModules?: unknown;
    excludeModules?: unknown;
    layersToTransform: unknown;
    layersPattern: string | string[] | null;
  },
  where: string,
): void {
  check(
    !(typeof out.targetModules === 'string' && out.layersToTransform !== null),
    'INVALID_CONFIG',
    () =>
      `${where}: layersToTransform cannot be used when targetModules is a string (${JSON.stringify(out.targetModules)}); give a list of module names`,
    () => ({ field: 'layersToTransform' }),
  );
  check(
    !(out.layersPattern !== null && out.layersToTransform === null),
    'INVALID_CONFIG',
    () => `${where}: layersPattern (${JSON.stringify(out.layersPattern)}) requires layersToTransform`,
    () => ({ field: 'layersPattern' }),
  );
  checkPatterns(out, where);
  const lp =
    out.layersPattern === null
      ? []
      : Array.isArray(out.layersPattern)
        ? out.layersPattern
        : [out.layersPattern];
  for (const p of lp) compilePattern(p, `${where}: layersPattern`);
}
