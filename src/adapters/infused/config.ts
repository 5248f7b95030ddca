/** Config schema of the `infused` adapter type (SPEC §2.9.5): constructor options plus `type` and `enabled`. */
import { z } from 'zod';
import { adapterConfigSchema, configField, type AdapterFields } from '../config-schema.js';
import type { StrategyConfig } from '../types.js';

/** Fields of the `infused` adapter type. */
export const infusedAdapterSchema = adapterConfigSchema({
  /** Size of the last dimension that is scaled. */
  inFeatures: configField.positiveInt(),
});

/** The default strategy of `infused`: the scaled tensor replaces the input. */
export const INFUSED_DEFAULT_STRATEGY: Readonly<StrategyConfig> = Object.freeze({ type: 'returnResult' });

/** What a caller writes to add an IA³ scaling adapter. */
export type InfusedAdapterConfig = z.input<typeof infusedAdapterSchema> & { type: 'infused' };
/** The stored form: every default written out. */
export type NormalizedInfusedAdapterConfig = z.output<typeof infusedAdapterSchema>;
/** The fields `InfusedAdapter`'s constructor takes besides the strategy and random source. */
export type InfusedAdapterFields = AdapterFields<typeof infusedAdapterSchema>;
