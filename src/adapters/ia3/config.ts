/**
 * The `ia3` wrapper config (SPEC §4.1; what PEFT calls `IA3Config`): learned rescaling vectors on
 * targeted linears. Fields declared once in {@link ia3ConfigSchema}.
 */
import { z } from 'zod';
import { check } from '../../errors.js';
import { ConfigSchema, field } from '../schema.js';
import { checkPatterns, checkWrapperConfigObject, customField, targetField, type TargetSpec } from '../lora/config.js';

/**
 * Fields of the `ia3` config, PEFT keys in brackets: `targetModules` [target_modules] (model default
 * `defaultIa3Targets`, else required), `feedforwardModules` [feedforward_modules] = null (model default
 * `defaultIa3FeedforwardModules`), `excludeModules` [exclude_modules] = null, `fanInFanOut`
 * [fan_in_fan_out] = false, `modulesToSave` [modules_to_save] = null, `initIa3Weights`
 * [init_ia3_weights] = true (ones; false draws N(0, 1) as PEFT's `torch.randn`).
 */
export const ia3ConfigSchema = new ConfigSchema({
  type: { ...field.enum(['ia3'] as const), zod: z.literal('ia3'), expects: "'ia3'" },
  targetModules: targetField(),
  feedforwardModules: targetField(),
  excludeModules: targetField(),
  fanInFanOut: field.boolean({ default: false }),
  modulesToSave: customField(z.array(z.string().min(1)), 'a list of module names', null, true),
  initIa3Weights: field.boolean({ default: true }),
});

/**
 * What a caller writes.
 *
 * @example
 * ```ts
 * const cfg: Ia3Config = { type: 'ia3', targetModules: ['k_proj', 'v_proj', 'fc2'], feedforwardModules: ['fc2'] };
 * ```
 */
export interface Ia3Config {
  type: 'ia3';
  /** List (suffix match at `.` boundaries) or full-match regex. Default: the model's `defaultIa3Targets`. */
  targetModules?: TargetSpec | null;
  /**
   * Targets whose input (not output) is scaled. A string is a full match, a list entry matches when the
   * module path ends with it (plain suffix, as PEFT). Must be a subset of the targets. Default null.
   */
  feedforwardModules?: TargetSpec | null;
  /** List or regex of modules never targeted. Default null. */
  excludeModules?: TargetSpec | null;
  /** The wrapped weight is stored `[in, out]`. Default false. */
  fanInFanOut?: boolean;
  /** Modules given a trainable per-adapter copy. Default null. */
  modulesToSave?: string[] | null;
  /** true: ones (identity); false: N(0, 1). Default true. */
  initIa3Weights?: boolean;
}

/** The stored form: every default written out. */
export interface NormalizedIa3Config {
  type: 'ia3';
  targetModules: TargetSpec | null;
  feedforwardModules: TargetSpec | null;
  excludeModules: TargetSpec | null;
  fanInFanOut: boolean;
  modulesToSave: string[] | null;
  initIa3Weights: boolean;
}

/**
 * Validates an `ia3` config and returns a fresh normalised copy. When both are lists,
 * `feedforwardModules` must be a subset of `targetModules` (`INVALID_CONFIG`, as PEFT); other forms
 * are checked against the matched modules at wrap time.
 */
export function parseIa3Config(cfg: unknown, where = 'ia3 config'): NormalizedIa3Config {
  checkWrapperConfigObject(cfg, where);
  const out = structuredClone(ia3ConfigSchema.parse(cfg, where)) as unknown as NormalizedIa3Config;
  checkIa3CrossFields(out, where);
  return out;
}

/** The subset rule and pattern compilation (also run after model defaults are filled in). */
export function checkIa3CrossFields(out: NormalizedIa3Config, where: string): void {
  checkPatterns(out, where);
  if (typeof out.feedforwardModules === 'string') checkPatterns({ excludeModules: out.feedforwardModules }, `${where} (feedforwardModules)`);
  if (Array.isArray(out.feedforwardModules) && Array.isArray(out.targetModules)) {
    const targets = out.targetModules;
    const extra = out.feedforwardModules.filter((f) => !targets.includes(f));
    check(
      extra.length === 0,
      'INVALID_CONFIG',
      () => `${where}: feedforwardModules must be a subset of targetModules; not targets: ${extra.join(', ')} (targets: ${targets.join(', ')})`,
      () => ({ field: 'feedforwardModules', value: extra }),
    );
  }
}
