import { ACTIVATIONS } from '../../nn/activations.js';
import { ConfigSchema, field } from '../schema.js';
import type { StrategyConfig } from '../types.js';
import type { Activation } from '../../nn/activations.js';

/** Fields of the `linear` adapter type (SPEC §2.9.2). */
export const linearAdapterSchema = new ConfigSchema({
  type: field.string(),
  enabled: field.boolean({ default: true }),
  inFeatures: field.positiveInt(),
  dim: field.positiveInt(),
  activation: field.enum(ACTIVATIONS, { default: 'swish' }),
  normPosition: field.enum(['pre', 'post'] as const, { default: 'pre' }),
  dropout: field.probability({ default: 0 }),
  adapterStrategy: field.strategy({ default: null, nullable: true }),
});

/** What a caller writes to add a bottleneck adapter. */
export type LinearAdapterConfig = {
  type: 'linear';
  inFeatures: number;
  dim: number;
  /** Default `'swish'`. */
  activation?: Activation;
  /** Default `'pre'`. */
  normPosition?: 'pre' | 'post';
  /** Dropout on the adapter output. Default 0. */
  dropout?: number;
  /** Default `{type: 'residualAdd', stochasticDepth: 0, l2Lambda: 0}`. */
  adapterStrategy?: StrategyConfig | null;
  /** Default true. */
  enabled?: boolean;
};
