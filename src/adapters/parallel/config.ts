/** Config schema of the `parallel` adapter type (He et al. 2021): constructor options plus `type` and `enabled`. */
import { z } from 'zod';
import { ACTIVATIONS, type Activation } from '../../nn/activations.js';
import { ConfigSchema, field, type FieldSpec } from '../schema.js';
import type { StrategyConfig } from '../types.js';

/** `scaling`: a finite number > 0, default 1. */
const positiveScaling: FieldSpec = {
  kind: 'number',
  zod: z.number().positive().optional(),
  expects: 'a finite number > 0',
  required: false,
  default: 1,
};

/** Fields of the `parallel` adapter type. */
export const parallelAdapterSchema = new ConfigSchema({
  type: field.string(),
  enabled: field.boolean({ default: true }),
  inFeatures: field.positiveInt(),
  dim: field.positiveInt(),
  activation: field.enum(ACTIVATIONS, { default: 'relu' }),
  scaling: positiveScaling,
  dropout: field.probability({ default: 0 }),
  adapterStrategy: field.strategy({ default: null, nullable: true }),
});

/**
 * The default (and only config-built) strategy of `parallel`: the residual base is the block output
 * at `'post'` (`value`), the adapter reads the FFN input (`x`) stored at `'mha'`.
 */
export const PARALLEL_DEFAULT_STRATEGY: Readonly<StrategyConfig> = Object.freeze({ type: 'mhaResidualAdd' });

/** What a caller writes to add a parallel (or scaled-parallel) bottleneck adapter. */
export interface ParallelAdapterConfig {
  type: 'parallel';
  /** Model width (a layered host overwrites it with its own). */
  inFeatures: number;
  /** Bottleneck width. */
  dim: number;
  /** Default `'relu'` (as He et al.). */
  activation?: Activation;
  /** Output scale `s`. Default 1; He et al.'s scaled parallel adapter uses 4. */
  scaling?: number;
  /** Dropout on the bottleneck activations (training only). Default 0. */
  dropout?: number;
  /**
   * Default `{type: 'mhaResidualAdd', stochasticDepth: 0, l2Lambda: 0}`; stochastic depth and the L2
   * loss apply to the branch `s·A(h)`. Other strategy types are rejected (`INVALID_CONFIG`).
   */
  adapterStrategy?: StrategyConfig | null;
  /** Default true. */
  enabled?: boolean;
}
