/** Config schema of the `infused` adapter type (SPEC §2.9.5): constructor options plus `type` and `enabled`. */
import { ConfigSchema, field } from '../schema.js';
import type { StrategyConfig } from '../types.js';

/** Fields of the `infused` adapter type. */
export const infusedAdapterSchema = new ConfigSchema({
  type: field.string(),
  enabled: field.boolean({ default: true }),
  inFeatures: field.positiveInt(),
  adapterStrategy: field.strategy({ default: null, nullable: true }),
});

/** The default strategy of `infused`: the scaled tensor replaces the input. */
export const INFUSED_DEFAULT_STRATEGY: Readonly<StrategyConfig> = Object.freeze({ type: 'returnResult' });

/** What a caller writes to add an IA³ scaling adapter. */
export interface InfusedAdapterConfig {
  type: 'infused';
  /** Size of the last dimension that is scaled. */
  inFeatures: number;
  /** Default `{type: 'returnResult'}`. */
  adapterStrategy?: StrategyConfig | null;
  /** Default true. */
  enabled?: boolean;
}
