/** Config schema of the `linear` adapter type (SPEC §2.9.2): constructor options plus `type` and `enabled`. */
import { z } from 'zod';
import { ACTIVATIONS } from '../../nn/activations.js';
import { adapterConfigSchema, configField, type AdapterFields } from '../config-schema.js';

/** Fields of the `linear` adapter type (SPEC §2.9.2). */
export const linearAdapterSchema = adapterConfigSchema({
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
});

/** What a caller writes to add a bottleneck adapter. */
export type LinearAdapterConfig = z.input<typeof linearAdapterSchema> & { type: 'linear' };
/** The stored form: every default written out. */
export type NormalizedLinearAdapterConfig = z.output<typeof linearAdapterSchema>;
/** The fields `LinearAdapter`'s constructor takes besides the strategy and random source. */
export type LinearAdapterFields = AdapterFields<typeof linearAdapterSchema>;
