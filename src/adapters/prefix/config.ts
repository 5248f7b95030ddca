/**
 * Config schema of the `prefixTuning` adapter type: PEFT's `PrefixTuningConfig` in camelCase. The
 * model's sizes (`tokenDim`, `numLayers`, `numAttentionHeads`) are filled in from the transformer
 * stack the adapter is added to; when given they must match it.
 */
import { z } from 'zod';
import { configField } from '../config-schema.js';

/** The prefix fields shared by `prefixTuning` and the prefix part of `mam`. */
export const prefixFields = {
  /** P: learned key and value vectors per layer and head. */
  numVirtualTokens: configField.positiveInt(),
  /**
   * Reparameterise the prefixes with PEFT's two-layer MLP (embedding `[P, tokenDim]` → Linear →
   * tanh → Linear to `numLayers·2·tokenDim`). Default false.
   */
  prefixProjection: configField.boolean().default(false),
  /** Hidden width of that MLP (only with `prefixProjection`); default `tokenDim`, as PEFT. */
  encoderHiddenSize: configField.positiveInt().nullable().default(null),
};

/** Fields of the `prefixTuning` adapter type. */
export const prefixTuningSchema = z.strictObject({
  type: configField.string(),
  /** Default true. */
  enabled: configField.boolean().default(true),
  ...prefixFields,
  /** Model width (key and value size per layer); filled in from the stack. */
  tokenDim: configField.positiveInt().nullable().default(null),
  /** Number of attention layers; filled in from the stack. */
  numLayers: configField.positiveInt().nullable().default(null),
  /** Heads per attention layer; filled in from the stack. */
  numAttentionHeads: configField.positiveInt().nullable().default(null),
});

/** The prefix part of a `mam` config: `{numVirtualTokens, prefixProjection?, encoderHiddenSize?}`. */
export const prefixPartSchema = z.strictObject(prefixFields);

/** What a caller writes to add prefix tuning. */
export type PrefixTuningConfig = z.input<typeof prefixTuningSchema> & { type: 'prefixTuning' };
/** The stored form: every default written out, the model's sizes filled in. */
export type NormalizedPrefixTuningConfig = z.output<typeof prefixTuningSchema>;
/** The prefix part of a `mam` config as a caller writes it. */
export type PrefixPartConfig = z.input<typeof prefixPartSchema>;
