/**
 * Config schema of the `mam` adapter type (He et al. 2022's Mix-And-Match adapter): prefix tuning on
 * every self-attention plus the scaled parallel adapter beside every feed-forward network.
 */
import { z } from 'zod';
import { ACTIVATIONS } from '../../nn/activations.js';
import { configField } from '../config-schema.js';
import { prefixPartSchema } from '../prefix/config.js';

/** The FFN part of a `mam` config: the scaled parallel adapter (`parallel`, SPEC §4). */
export const mamFfnSchema = z.strictObject({
  /** Bottleneck width. */
  dim: configField.positiveInt(),
  /** Output scale `s`. Default 4 (He et al.'s scaled parallel adapter). */
  scaling: configField.custom(z.number().positive(), 'a finite number > 0', { kind: 'number' }).default(4),
  /** Default `'relu'`. */
  activation: configField.enum(ACTIVATIONS).default('relu'),
  /** Dropout on the bottleneck activations (training only). Default 0. */
  dropout: configField.probability().default(0),
});

/** Fields of the `mam` adapter type. */
export const mamAdapterSchema = z.strictObject({
  type: configField.string(),
  /** Default true. */
  enabled: configField.boolean().default(true),
  /** Prefix tuning on every self-attention: `{numVirtualTokens, prefixProjection?, encoderHiddenSize?}`. */
  prefix: configField.custom(
    prefixPartSchema,
    'an object {numVirtualTokens: integer ≥ 1, prefixProjection?: boolean, encoderHiddenSize?: integer ≥ 1 (with prefixProjection)}',
  ),
  /** The scaled parallel adapter beside every FFN: `{dim, scaling?, activation?, dropout?}`. */
  ffn: configField.custom(
    mamFfnSchema,
    `an object {dim: integer ≥ 1, scaling?: number > 0 (default 4), activation?: one of ${ACTIVATIONS.join(', ')}, dropout?: probability}`,
  ),
});

/** What a caller writes to add a MAM adapter. */
export type MamAdapterConfig = z.input<typeof mamAdapterSchema> & { type: 'mam' };
/** The stored form: every default written out. */
export type NormalizedMamAdapterConfig = z.output<typeof mamAdapterSchema>;
