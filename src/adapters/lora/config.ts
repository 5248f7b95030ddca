/**
 * The `lora` wrapper config (SPEC §4.1; what PEFT calls `LoraConfig`). Fields are declared once in
 * {@link loraConfigSchema}; {@link parseLoraConfig} validates a caller's object and returns a fresh
 * normalised copy with every default written out, then applies PEFT's cross-field checks.
 */
import { z } from 'zod';
import { check, isPlainObject, describeValue } from '../../errors.js';
import { ConfigSchema, field, type FieldSpec } from '../schema.js';
import { compilePattern } from '../tuners/regex.js';

/** `initLoraWeights` choices. */
export const INIT_LORA_WEIGHTS = [true, false, 'gaussian', 'xavierUniform', 'xavierNormal'] as const;
/** `bias` choices. */
export const LORA_BIAS_CHOICES = ['none', 'all', 'lora_only'] as const;

/** How a LoRA adapter initialises its weights (SPEC §4.1). */
export type InitLoraWeights = (typeof INIT_LORA_WEIGHTS)[number];
/** Which base biases become trainable and saved. */
export type LoraBiasMode = (typeof LORA_BIAS_CHOICES)[number];

/** A list of module names (suffix match at `.` boundaries) or one full-match regex. */
export type TargetSpec = string | string[];

/** @internal A hand-made field spec (kinds the `field.*` helpers do not cover). */
export function customField(zod: z.ZodTypeAny, expects: string, dflt: unknown, nullable = false): FieldSpec {
  return {
    kind: 'any',
    zod: (nullable ? zod.nullable() : zod).optional(),
    expects: nullable ? `${expects} or null` : expects,
    required: false,
    default: dflt,
    ...(nullable ? { nullable: true } : {}),
  };
}

const nameList = z.array(z.string().min(1));
/** @internal Field: a list of module names or a regex string, nullable. */
export const targetField = () =>
  customField(z.union([z.string().min(1), nameList]), 'a list of module names or a regex string', null, true);

/**
 * Fields of the `lora` config, with PEFT's keys in brackets:
 * `r` [r] = 8, `loraAlpha` [lora_alpha] = 8 (> 0), `loraDropout` [lora_dropout] = 0,
 * `targetModules` [target_modules] = model default, `excludeModules` [exclude_modules] = null,
 * `layersToTransform` [layers_to_transform] = null, `layersPattern` [layers_pattern] = null,
 * `rankPattern` [rank_pattern] = {}, `alphaPattern` [alpha_pattern] = {}, `fanInFanOut` [fan_in_fan_out] = false,
 * `bias` [bias] = 'none', `useRslora` [use_rslora] = false, `modulesToSave` [modules_to_save] = null,
 * `loraBias` [lora_bias] = false, `initLoraWeights` [init_lora_weights] = true, `useDora` [use_dora] = false.
 */
export const loraConfigSchema = new ConfigSchema({
  type: { ...field.enum(['lora'] as const), zod: z.literal('lora'), expects: "'lora'" },
  r: field.positiveInt({ default: 8 }),
  loraAlpha: customField(z.number().gt(0), 'a number > 0', 8),
  loraDropout: field.probability({ default: 0 }),
  targetModules: customField(
    z.union([z.string().min(1), nameList]),
    "a list of module names, a regex string or 'all-linear'",
    null,
    true,
  ),
  excludeModules: targetField(),
  layersToTransform: customField(
    z.union([z.number().int().min(0), z.array(z.number().int().min(0))]),
    'a layer index ≥ 0 or a list of them',
    null,
    true,
  ),
  layersPattern: customField(z.union([z.string().min(1), nameList]), 'a pattern string or a list of them', null, true),
  rankPattern: customField(z.record(z.string(), z.number().int().min(1)), 'an object mapping patterns to ranks ≥ 1', {}),
  alphaPattern: customField(z.record(z.string(), z.number().gt(0)), 'an object mapping patterns to alphas > 0', {}),
  fanInFanOut: field.boolean({ default: false }),
  bias: field.enum(LORA_BIAS_CHOICES, { default: 'none' }),
  useRslora: field.boolean({ default: false }),
  modulesToSave: customField(nameList, 'a list of module names', null, true),
  loraBias: field.boolean({ default: false }),
  initLoraWeights: {
    ...customField(
      z.union([z.boolean(), z.enum(['gaussian', 'xavierUniform', 'xavierNormal'])]),
      'one of: true, false, gaussian, xavierUniform, xavierNormal',
      true,
    ),
    kind: 'enum',
    choices: INIT_LORA_WEIGHTS,
  },
  useDora: field.boolean({ default: false }),
});

/**
 * What a caller writes (every field but `type` optional).
 *
 * @example
 * ```ts
 * const cfg: LoraConfig = { type: 'lora', targetModules: ['q_proj', 'v_proj'], r: 16, loraAlpha: 32, loraDropout: 0.05 };
 * ```
 */
export interface LoraConfig {
  type: 'lora';
  /** Rank, integer ≥ 1. Default 8. */
  r?: number;
  /** Scale numerator, > 0. Default 8. */
  loraAlpha?: number;
  /** Dropout on the LoRA branch input of linears, training only. Default 0. */
  loraDropout?: number;
  /**
   * List (suffix match at `.` boundaries), full-match regex or `'all-linear'`. Default: the model's `defaultLoraTargets`.
   * Regexes run in linear time (RE2 syntax, see `compilePattern`); backreferences and lookaheads are refused.
   */
  targetModules?: TargetSpec | null;
  /** List or regex of modules never targeted. Default null. */
  excludeModules?: TargetSpec | null;
  /** Layer indices to keep (list targets only). Default null. */
  layersToTransform?: number | number[] | null;
  /** Name(s) of the layer container whose index `layersToTransform` filters. Default null. */
  layersPattern?: string | string[] | null;
  /** Per-module rank overrides, `pattern → r` (a regex matched against the end of a module path, at a `.`). Default {}. */
  rankPattern?: Record<string, number>;
  /** Per-module alpha overrides, `pattern → α`. Default {}. */
  alphaPattern?: Record<string, number>;
  /** The wrapped weight is stored `[in, out]` and applied as `x·W`. Default false. */
  fanInFanOut?: boolean;
  /** Which base biases become trainable and saved. Default 'none'. */
  bias?: LoraBiasMode;
  /** Scaling `α/√r` instead of `α/r`. Default false. */
  useRslora?: boolean;
  /** Modules given a trainable per-adapter copy. Default null. */
  modulesToSave?: string[] | null;
  /** `lora_B` gets a bias (zero init). Default false. */
  loraBias?: boolean;
  /** Initialisation (SPEC §4.1). Default true. */
  initLoraWeights?: InitLoraWeights;
  /** Weight-decomposed LoRA on wrapped linears. Default false. */
  useDora?: boolean;
}

/** The stored form: every default written out. */
export interface NormalizedLoraConfig {
  type: 'lora';
  r: number;
  loraAlpha: number;
  loraDropout: number;
  targetModules: TargetSpec | null;
  excludeModules: TargetSpec | null;
  layersToTransform: number | number[] | null;
  layersPattern: string | string[] | null;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  fanInFanOut: boolean;
  bias: LoraBiasMode;
  useRslora: boolean;
  modulesToSave: string[] | null;
  loraBias: boolean;
  initLoraWeights: InitLoraWeights;
  useDora: boolean;
}

/** Checks that `cfg` is a plain object (shared by wrapper kinds). */
export function checkWrapperConfigObject(cfg: unknown, where: string): asserts cfg is Record<string, unknown> {
  check(
    isPlainObject(cfg),
    'INVALID_CONFIG',
    () => `${where}: expected a config object like {type: 'lora', targetModules: [...]}, got ${describeValue(cfg)}`,
  );
}

/** Compiles every regex-valued field so a bad pattern fails at parse time (`INVALID_CONFIG`). */
export function checkPatterns(cfg: { targetModules?: unknown; excludeModules?: unknown }, where: string): void {
  if (typeof cfg.targetModules === 'string' && cfg.targetModules !== 'all-linear') {
    compilePattern(cfg.targetModules, `${where}: targetModules`);
  }
  if (typeof cfg.excludeModules === 'string') compilePattern(cfg.excludeModules, `${where}: excludeModules`);
}

/**
 * Validates a `lora` config and returns a fresh normalised copy. Unknown fields, wrong kinds and
 * PEFT's cross-field rules → `INVALID_CONFIG` naming the field(s):
 * `layersToTransform` needs list targets; `layersPattern` needs `layersToTransform`;
 * `loraBias` is not supported with DoRA nor with inits other than true/false (as PEFT).
 * The caller's object is never touched.
 */
export function parseLoraConfig(cfg: unknown, where = 'lora config'): NormalizedLoraConfig {
  checkWrapperConfigObject(cfg, where);
  const out = structuredClone(loraConfigSchema.parse(cfg, where)) as unknown as NormalizedLoraConfig;
  if (Array.isArray(out.targetModules)) out.targetModules = [...new Set(out.targetModules)];
  checkLoraCrossFields(out, where);
  return out;
}

/** PEFT's cross-field checks of `LoraConfig.__post_init__` (also run after model defaults are filled in). */
export function checkLoraCrossFields(out: NormalizedLoraConfig, where: string): void {
  check(
    !(typeof out.targetModules === 'string' && out.layersToTransform !== null),
    'INVALID_CONFIG',
    () => `${where}: layersToTransform cannot be used when targetModules is a string (${JSON.stringify(out.targetModules)}); give a list of module names`,
    () => ({ field: 'layersToTransform' }),
  );
  check(
    !(out.layersPattern !== null && out.layersToTransform === null),
    'INVALID_CONFIG',
    () => `${where}: layersPattern (${JSON.stringify(out.layersPattern)}) requires layersToTransform`,
    () => ({ field: 'layersPattern' }),
  );
  check(
    !(out.loraBias && out.useDora),
    'INVALID_CONFIG',
    () => `${where}: loraBias: true is not supported with useDora: true (as in PEFT)`,
    () => ({ field: 'loraBias' }),
  );
  check(
    !(out.loraBias && typeof out.initLoraWeights !== 'boolean'),
    'INVALID_CONFIG',
    () => `${where}: loraBias: true is only supported with initLoraWeights true or false, got ${JSON.stringify(out.initLoraWeights)} (as in PEFT)`,
    () => ({ field: 'loraBias' }),
  );
  checkPatterns(out, where);
  for (const p of Object.keys(out.rankPattern)) compilePattern(p, `${where}: rankPattern`);
  for (const p of Object.keys(out.alphaPattern)) compilePattern(p, `${where}: alphaPattern`);
  const lp = out.layersPattern === null ? [] : Array.isArray(out.layersPattern) ? out.layersPattern : [out.layersPattern];
  for (const p of lp) compilePattern(p, `${where}: layersPattern`);
}

/** `α/r`, or `α/√r` with rsLoRA. */
export function loraScaling(r: number, alpha: number, useRslora: boolean): number {
  return useRslora ? alpha / Math.sqrt(r) : alpha / r;
}
