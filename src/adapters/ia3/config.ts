/**
 * The `ia3` wrapper config (SPEC §4.1; what PEFT calls `IA3Config`): learned rescaling vectors on
 * targeted linears. Fields declared once in {@link ia3ConfigSchema}; the types are inferred from it.
 */
import { z } from 'zod';
import { check } from '../../errors.js';
import { configField } from '../config-schema.js';
import {
  checkPatterns,
  fanInFanOutField,
  targetField,
  tunerConfigBase,
  parseTunerConfig,
} from '../tuners/config.js';

/**
 * Fields of the `ia3` config, PEFT keys in brackets: `targetModules` [target_modules] (model default
 * `defaultIa3Targets`, else required), `feedforwardModules` [feedforward_modules] = null (model default
 * `defaultIa3FeedforwardModules`), `excludeModules` [exclude_modules] = null, `fanInFanOut`
 * [fan_in_fan_out] = false, `modulesToSave` [modules_to_save] = null, `initIa3Weights`
 * [init_ia3_weights] = true (ones; false draws N(0, 1) as PEFT's `torch.randn`).
 */
export const ia3ConfigSchema = tunerConfigBase.extend({
  type: z.literal('ia3'),
  /** List (suffix match at `.` boundaries) or full-match regex. Default: the model's `defaultIa3Targets`. */
  targetModules: targetField(),
  /**
   * Targets whose input (not output) is scaled. A string is a full match, a list entry matches when the
   * module path ends with it (plain suffix, as PEFT). Must be a subset of the targets. Default null.
   */
  feedforwardModules: targetField(),
  /** The wrapped weight is stored `[in, out]`. Default false. */
  fanInFanOut: fanInFanOutField(),
  /** true: ones (identity); false: N(0, 1). Default true. */
  initIa3Weights: configField.boolean().default(true),
});

/**
 * What a caller writes.
 *
 * @example
 * ```ts
 * const cfg: Ia3Config = { type: 'ia3', targetModules: ['k_proj', 'v_proj', 'fc2'], feedforwardModules: ['fc2'] };
 * ```
 */
export type Ia3Config = z.input<typeof ia3ConfigSchema>;

/** The stored form: every default written out. */
export type NormalizedIa3Config = z.output<typeof ia3ConfigSchema>;

/**
 * Validates an `ia3` config and returns a fresh normalised copy. When both are lists,
 * `feedforwardModules` must be a subset of `targetModules` (`INVALID_CONFIG`, as PEFT); other forms
 * are checked against the matched modules at wrap time.
 */
export function parseIa3Config(cfg: unknown, where = 'ia3 config'): NormalizedIa3Config {
  const out = parseTunerConfig(ia3ConfigSchema, cfg, where);
  checkIa3CrossFields(out, where);
  return out;
}

/** The subset rule and pattern compilation (also run after model defaults are filled in). */
export function checkIa3CrossFields(out: NormalizedIa3Config, where: string): void {
  checkPatterns(out, where);
  if (typeof out.feedforwardModules === 'string')
    checkPatterns({ excludeModules: out.feedforwardModules }, `${where} (feedforwardModules)`);
  if (Array.isArray(out.feedforwardModules) && Array.isArray(out.targetModules)) {
    const targets = out.targetModules;
    const extra = out.feedforwardModules.filter((f) => !targets.includes(f));
    check(
      extra.length === 0,
      'INVALID_CONFIG',
      () =>
        `${where}: feedforwardModules must be a subset of targetModules; not targets: ${extra.join(', ')} (targets: ${targets.join(', ')})`,
      () => ({ field: 'feedforwardModules', value: extra }),
    );
  }
}
