/** Config schema of the `linear` adapter type (SPEC §2.9.2): constructor options plus `type` and `enabled`. */
import { z } from 'zod';
import { ACTIVATIONS } from '../../nn/activations.js';
import { configField } from '../config-schema.js';

/** Fields of the `linear` adapter type (SPEC §2.9.2). */
export const linearAdapterSchema = z.strictObject({
  type: configField.string(),
  /** Default true. */
  enabled: configField.boolean().default(true),
  /** Model width (input and output features). */
  inFeatures: configField.positiveInt(),
  /** Bottleneck width. */
  dim: configField.positiveInt(),
  /** Default `'swish'`. */
  activation: configField.enum(ACTIVATIONS).default('swish'),
  /** Default `'pre'`. */
  normPosition: configField.enum(['pre', 'post']).default('pre'),
  /** Dropout on the adapter output. Default 0. */
  dropout: configField.probability().default(0),
  /** Default `{type: 'residualAdd', stochasticDepth: 0, l2Lambda: 0}`. */
  adapterStrategy: configField.strategy().nullable().default(null),
});

/** What a caller writes to add a bottleneck adapter. */
export type LinearAdapterConfig = z.input<typeof linearAdapterSchema> & { type: 'linear' };
/** The stored form: every default written out. */
export type NormalizedLinearAdapterConfig = z.output<typeof linearAdapterSchema>;
/** The fields `LinearAdapter`'s constructor takes besides the strategy and random source. */
export type LinearAdapterFields = Omit<
  z.input<typeof linearAdapterSchema>,
  'type' | 'enabled' | 'adapterStrategy'
>;
