/**
 * The `lora` wrapper config (SPEC §4.1; what PEFT calls `LoraConfig`). Fields are declared once in
 * {@link loraConfigSchema}, and {@link LoraConfig} / {@link NormalizedLoraConfig} are inferred from
 * it; {@link parseLoraConfig} validates a caller's object and returns a fresh normalised copy with
 * every default written out, then applies PEFT's cross-field checks.
 */
import { z } from 'zod';
import { check } from '../../errors.js';
import { configField } from '../config-schema.js';
import {
  checkLayerSelection,
  customField,
  fanInFanOutField,
  layersPatternField,
  layersToTransformField,
  moduleNameList,
  tunerConfigBase,
  parseTunerConfig,
} from '../tuners/config.js';
import { compilePattern } from '../tuners/regex.js';

export type { TargetSpec } from '../tuners/config.js';

/** `initLoraWeights` choices. */
export const INIT_LORA_WEIGHTS = [true, false, 'gaussian', 'xavierUniform', 'xavierNormal'] as const;
/** `bias` choices. */
export const LORA_BIAS_CHOICES = ['none', 'all', 'lora_only'] as const;

/** How a LoRA adapter initialises its weights (SPEC §4.1). */
export type InitLoraWeights = (typeof INIT_LORA_WEIGHTS)[number];
/** Which base biases become trainable and saved. */
export type LoraBiasMode = (typeof LORA_BIAS_CHOICES)[number];

/**
 * Fields of the `lora` config, with PEFT's keys in brackets:
 * `r` [r] = 8, `loraAlpha` [lora_alpha] = 8 (> 0), `loraDropout` [lora_dropout] = 0,
 * `targetModules` [target_modules] = model default, `excludeModules` [exclude_modules] = null,
 * `layersToTransform` [layers_to_transform] = null, `layersPattern` [layers_pattern] = null,
 * `rankPattern` [rank_pattern] = {}, `alphaPattern` [alpha_pattern] = {}, `fanInFanOut` [fan_in_fan_out] = false,
 * `bias` [bias] = 'none', `useRslora` [use_rslora] = false, `modulesToSave` [modules_to_save] = null,
 * `loraBias` [lora_bias] = false, `initLoraWeights` [init_lora_weights] = true, `useDora` [use_dora] = false.
 * `excludeModules` and `modulesToSave` come from {@link tunerConfigBase}.
 */
export const loraConfigSchema = tunerConfigBase.extend({
  type: z.literal('lora'),
  /** Rank, integer ≥ 1. Default 8. */
  r: configField.positiveInt().default(8),
  /** Scale numerator, > 0. Default 8. */
  loraAlpha: customField(z.number().gt(0), 'a number > 0').default(8),
  /** Dropout on the LoRA branch input of linears, training only. Default 0. */
  loraDropout: configField.probability().default(0),
  /**
   * List (suffix match at `.` boundaries), full-match regex or `'all-linear'`. Default: the model's `defaultLoraTargets`.
   * Regexes run in linear time (RE2 syntax, see `compilePattern`); backreferences and lookaheads are refused.
   */
  targetModules: customField(
    z.union([z.string().min(1), moduleNameList()]),
    "a list of module names, a regex string or 'all-linear'",
  )
    .nullable()
    .default(null),
  /** Layer indices to keep (list targets only). Default null. */
  layersToTransform: layersToTransformField(),
  /** Name(s) of the layer container whose index `layersToTransform` filters. Default null. */
  layersPattern: layersPatternField(),
  /** Per-module rank overrides, `pattern → r` (a regex matched against the end of a module path, at a `.`). Default {}. */
  rankPattern: customField(
    z.record(z.string(), z.number().int().min(1)),
    'an object mapping patterns to ranks ≥ 1',
  ).default({}),
  /** Per-module alpha overrides, `pattern → α`. Default {}. */
  alphaPattern: customField(
    z.record(z.string(), z.number().gt(0)),
    'an object mapping patterns to alphas > 0',
  ).default({}),
  /** The wrapped weight is stored `[in, out]` and applied as `x·W`. Default false. */
  fanInFanOut: fanInFanOutField(),
  /** Which base biases become trainable and saved. Default 'none'. */
  bias: configField.enum(LORA_BIAS_CHOICES).default('none'),
  /** Scaling `α/√r` instead of `α/r`. Default false. */
  useRslora: configField.boolean().default(false),
  /** `lora_B` gets a bias (zero init). Default false. */
  loraBias: configField.boolean().default(false),
  /** Initialisation (SPEC §4.1). Default true. */
  initLoraWeights: configField
    .custom(
      z.union([z.boolean(), z.enum(['gaussian', 'xavierUniform', 'xavierNormal'])]),
      `one of: ${INIT_LORA_WEIGHTS.join(', ')}`,
      {
        kind: 'enum',
        choices: INIT_LORA_WEIGHTS,
      },
    )
    .default(true),
  /** Weight-decomposed LoRA on wrapped linears. Default false. */
  useDora: configField.boolean().default(false),
});

/**
 * What a caller writes (every field but `type` optional).
 *
 * @example
 * ```ts
 * const cfg: LoraConfig = { type: 'lora', targetModules: ['q_proj', 'v_proj'], r: 16, loraAlpha: 32, loraDropout: 0.05 };
 * ```
 */
export type LoraConfig = z.input<typeof loraConfigSchema>;

/** The stored form: every default written out. */
export type NormalizedLoraConfig = z.output<typeof loraConfigSchema>;

/**
 * Validates a `lora` config and returns a fresh normalised copy. Unknown fields, wrong kinds and
 * PEFT's cross-field rules → `INVALID_CONFIG` naming the field(s):
 * `layersToTransform` needs list targets; `layersPattern` needs `layersToTransform`;
 * `loraBias` is not supported with DoRA nor with inits other than true/false (as PEFT).
 * The caller's object is never touched.
 */
export function parseLoraConfig(cfg: unknown, where = 'lora config'): NormalizedLoraConfig {
  const out = parseTunerConfig(loraConfigSchema, cfg, where);
  checkLoraCrossFields(out, where);
  return out;
}

/** PEFT's cross-field checks of `LoraConfig.__post_init__` (also run after model defaults are filled in). */
export function checkLoraCrossFields(out: NormalizedLoraConfig, where: string): void {
  check(
    !(out.loraBias && out.useDora),
    'INVALID_CONFIG',
    () => `${where}: loraBias: true is not supported with useDora: true (as in PEFT)`,
    () => ({ field: 'loraBias' }),
  );
  check(
    !(out.loraBias && typeof out.initLoraWeights !== 'boolean'),
    'INVALID_CONFIG',
    () =>
      `${where}: loraBias: true is only supported with initLoraWeights true or false, got ${JSON.stringify(out.initLoraWeights)} (as in PEFT)`,
    () => ({ field: 'loraBias' }),
  );
  checkLayerSelection(out, where);
  for (const p of Object.keys(out.rankPattern)) compilePattern(p, `${where}: rankPattern`);
  for (const p of Object.keys(out.alphaPattern)) compilePattern(p, `${where}: alphaPattern`);
}

/** `α/r`, or `α/√r` with rsLoRA. */
export function loraScaling(r: number, alpha: number, useRslora: boolean): number {
  return useRslora ? alpha / Math.sqrt(r) : alpha / r;
}
