/**
 * The `vera` wrapper config (SPEC §5.4; what PEFT calls `VeraConfig`): shared frozen random
 * projections plus per-layer trainable scaling vectors. Fields are declared once in
 * {@link veraConfigSchema}; the types are inferred from it.
 */
import { z } from 'zod';
import { configField } from '../config-schema.js';
import {
  checkLayerSelection,
  customField,
  fanInFanOutField,
  layersPatternField,
  layersToTransformField,
  moduleNameList,
  parseTunerConfig,
  tunerConfigBase,
} from '../tuners/config.js';

/** `bias` choices (PEFT's): no bias, the biases of wrapped layers, every bias. */
export const VERA_BIAS_CHOICES = ['none', 'all', 'vera_only'] as const;
/** Which base biases a VeRA adapter trains and saves. */
export type VeraBiasMode = (typeof VERA_BIAS_CHOICES)[number];

/**
 * Fields of the `vera` config, PEFT keys in brackets: `r` [r] = 256, `targetModules` [target_modules]
 * (model default `defaultLoraTargets`, else required), `projectionPrngKey` [projection_prng_key] = 0,
 * `saveProjection` [save_projection] = true, `veraDropout` [vera_dropout] = 0, `dInitial`
 * [d_initial] = 0.1, `fanInFanOut` [fan_in_fan_out] = false, `bias` [bias] = 'none',
 * `modulesToSave` [modules_to_save] = null, `initWeights` [init_weights] = true,
 * `layersToTransform` [layers_to_transform] = null, `layersPattern` [layers_pattern] = null.
 * `excludeModules` (from {@link tunerConfigBase}) has no PEFT key for VeRA: an adapter using it
 * cannot be saved as a PEFT directory.
 */
export const veraConfigSchema = tunerConfigBase.extend({
  type: z.literal('vera'),
  /** Rank of the shared projections, integer ≥ 1; not bounded by the layers' sizes. Default 256. */
  r: configField.positiveInt().default(256),
  /**
   * List (suffix match at `.` boundaries), full-match regex or `'all-linear'`. Default: the model's
   * `defaultLoraTargets` (PEFT's VeRA defaults follow LoRA's).
   */
  targetModules: customField(
    z.union([z.string().min(1), moduleNameList()]),
    "a list of module names, a regex string or 'all-linear'",
  )
    .nullable()
    .default(null),
  /** Seed of the generator that draws `vera_A` and `vera_B` (PyTorch's CPU generator). Default 0. */
  projectionPrngKey: customField(
    z
      .number()
      .int()
      .min(-(2 ** 53) + 1)
      .max(2 ** 53 - 1),
    'an integer',
  ).default(0),
  /** Save `vera_A` / `vera_B` with the adapter; false: they are regenerated from the key. Default true. */
  saveProjection: configField.boolean().default(true),
  /** Dropout on the VeRA branch input, training only. Default 0. */
  veraDropout: configField.probability().default(0),
  /** Initial value of every `λ_d` entry. Default 0.1. */
  dInitial: configField.number().default(0.1),
  /** The wrapped weight is stored `[in, out]`. Default false. */
  fanInFanOut: fanInFanOutField(),
  /** Which base biases become trainable and saved. Default 'none'. */
  bias: configField.enum(VERA_BIAS_CHOICES).default('none'),
  /** true: `λ_d = dInitial`, `λ_b = 0` (the base output); false: `λ_d ~ N(0, 1)`, `λ_b = 1` (as PEFT). Default true. */
  initWeights: configField.boolean().default(true),
  /** Layer indices to keep (list targets only). Default null. */
  layersToTransform: layersToTransformField(),
  /** Name(s) of the layer container whose index `layersToTransform` filters. Default null. */
  layersPattern: layersPatternField(),
});

/**
 * What a caller writes (every field but `type` optional).
 *
 * @example
 * ```ts
 * const cfg: VeraConfig = { type: 'vera', r: 256, targetModules: ['q_proj', 'v_proj'], projectionPrngKey: 0 };
 * ```
 */
export type VeraConfig = z.input<typeof veraConfigSchema>;

/** The stored form: every default written out. */
export type NormalizedVeraConfig = z.output<typeof veraConfigSchema>;

/**
 * Validates a `vera` config and returns a fresh normalised copy. Unknown fields, wrong kinds and
 * PEFT's cross-field rules (`layersToTransform` needs list targets, `layersPattern` needs
 * `layersToTransform`) → `INVALID_CONFIG` naming the field. The caller's object is never touched.
 */
export function parseVeraConfig(cfg: unknown, where = 'vera config'): NormalizedVeraConfig {
  const out = parseTunerConfig(veraConfigSchema, cfg, where);
  checkVeraCrossFields(out, where);
  return out;
}

/** PEFT's cross-field checks of `VeraConfig.__post_init__` (also run after model defaults are filled in). */
export function checkVeraCrossFields(out: NormalizedVeraConfig, where: string): void {
  checkLayerSelection(out, where);
}
