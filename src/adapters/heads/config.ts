/**
 * The two fields by which any NeMo-style adapter owns parts of the model's own modules (SPEC §5.2):
 * `modulesToSave` (trainable copies) and `extendOutput` (new rows of a linear output layer). They sit
 * beside the adapter kind's own fields in one config; the model splits them off before the kind's
 * schema sees the rest, so every kind accepts them without a change to its schema.
 */
import { z } from 'zod';
import { configField, parseConfig } from '../config-schema.js';
import type { AdapterConfig } from '../types.js';

/** Config fields that belong to heads, not to the adapter kind. */
export const HEAD_FIELDS = ['modulesToSave', 'extendOutput'] as const;

const extendOutputSchema = z.strictObject({
  module: z.string().min(1),
  newLabels: z.array(z.string().min(1)).min(1),
});

/** The heads part of an adapter config (both fields optional; null means none). */
export const headsConfigSchema = z.strictObject({
  modulesToSave: configField
    .custom(z.array(z.string().min(1)).min(1), 'a non-empty list of module paths such as ["head"]')
    .nullable()
    .optional(),
  extendOutput: configField
    .custom(extendOutputSchema, "an object {module: 'head', newLabels: ['label', …]} with at least one label")
    .nullable()
    .optional(),
});

/** What callers write: `{modulesToSave?: string[], extendOutput?: {module, newLabels}}`. */
export type HeadsConfigInput = z.input<typeof headsConfigSchema>;

/** The normalised heads config: only the fields that were given and not null. */
export interface HeadsConfig {
  modulesToSave?: string[];
  extendOutput?: { module: string; newLabels: string[] };
}

/**
 * Splits an adapter config into the kind's own fields and its heads fields, validating the latter
 * (`INVALID_CONFIG` naming each bad field). The caller's object is not touched.
 */
export function splitHeadsConfig(
  cfg: AdapterConfig,
  where: string,
): { kindConfig: AdapterConfig; heads: HeadsConfig } {
  const { modulesToSave, extendOutput, ...kindConfig } = cfg;
  const parsed = parseConfig(headsConfigSchema, { modulesToSave, extendOutput }, where);
  const heads: HeadsConfig = {};
  if (parsed.modulesToSave) heads.modulesToSave = [...parsed.modulesToSave];
  if (parsed.extendOutput)
    heads.extendOutput = {
      module: parsed.extendOutput.module,
      newLabels: [...parsed.extendOutput.newLabels],
    };
  return { kindConfig: kindConfig as AdapterConfig, heads };
}

/** True when the heads config owns nothing. */
export function isEmptyHeads(h: HeadsConfig): boolean {
  return h.modulesToSave === undefined && h.extendOutput === undefined;
}
