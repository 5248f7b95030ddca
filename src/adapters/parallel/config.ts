/** Config schema of the `parallel` adapter type (He et al. 2021): constructor options plus `type` and `enabled`. */
import { z } from 'zod';
import { ACTIVATIONS } from '../../nn/activations.js';
import { adapterConfigSchema, configField, type AdapterFields } from '../config-schema.js';
import type { StrategyConfig } from '../types.js';

/**
 * Fields of the `parallel` adapter type. Its `adapterStrategy` defaults to
 * `{type: 'mhaResidualAdd', stochasticDepth: 0, l2Lambda: 0}`; stochastic depth and the L2 loss apply
 * to the branch `s·A(h)`. Other strategy types are rejected (`INVALID_CONFIG`).
 */
export const parallelAdapterSchema = adapterConfigSchema({
  /** Model width (a layered host overwrites it with its own). */
  inFeatures: configField.positiveInt(),
  /** Bottleneck width. */
  dim: configField.positiveInt(),
  /** Default `'relu'` (as He et al.). */
  activation: configField.enum(ACTIVATIONS).default('relu'),
  /** Output scale `s`. Default 1; He et al.'s scaled parallel adapter uses 4. */
  scaling: configField.custom(z.number().positive(), 'a finite number > 0', { kind: 'number' }).default(1),
  /** Dropout on the bottleneck activations (training only). Default 0. */
  dropout: configField.probability().default(0),
});

/**
 * The default (and only config-built) strategy of `parallel`: the residual base is the block output
 * at `'post'` (`value`), the adapter reads the FFN input (`x`) stored at `'mha'`.
 */
export const PARALLEL_DEFAULT_STRATEGY: Readonly<StrategyConfig> = Object.freeze({ type: 'mhaResidualAdd' });

/** What a caller writes to add a parallel (or scaled-parallel) bottleneck adapter. */
export type ParallelAdapterConfig = z.input<typeof parallelAdapterSchema> & { type: 'parallel' };
/** The stored form: every default written out. */
export type NormalizedParallelAdapterConfig = z.output<typeof parallelAdapterSchema>;
/** The fields `ParallelAdapter`'s constructor takes besides the strategy and random source. */
export type ParallelAdapterFields = AdapterFields<typeof parallelAdapterSchema>;
