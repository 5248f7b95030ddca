/**
 * Config fields and checks every tuner method's config shares (`lora`, `ia3`, …): target lists,
 * the plain-object check, and compiling regex-valued fields at parse time.
 */
import { z } from 'zod';
import { check, describeValue, isPlainObject } from '../../errors.js';
import { configField } from '../config-schema.js';
import { compilePattern } from './regex.js';

/** A list of module names (suffix match at `.` boundaries) or one full-match regex. */
export type TargetSpec = string | string[];

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
