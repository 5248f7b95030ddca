import { AdapterError, check, notOneOf } from '../errors.js';

/** Checks a model config field is an integer ≥ 1, naming the model and field otherwise. */
export function requirePositiveInt(cfg: Record<string, unknown>, field: string, model: string): number {
  const v = cfg[field];
  check(
    Number.isInteger(v) && (v as number) >= 1,
    'INVALID_CONFIG',
    () => `${model} config: ${field} must be an integer ≥ 1, got ${JSON.stringify(v)}`,
    () => ({ field, value: v }),
  );
  return v as number;
}

/** Checks a config field is one of `choices` (or absent, giving `fallback`). */
export function requireChoice<T extends string>(
  cfg: Record<string, unknown>,
  field: string,
  choices: readonly T[],
  fallback: T,
  model: string,
): T {
  const v = cfg[field] ?? fallback;
  if (!(choices as readonly unknown[]).includes(v)) {
    throw new AdapterError('INVALID_CONFIG', `${model} config: ${notOneOf(field, v, choices)}`, { field, valid: [...choices] });
  }
  return v as T;
}
