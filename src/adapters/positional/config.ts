/**
 * Config schemas of the positional-encoding adapter types (SPEC §2.9.4). Each schema's field set is
 * the constructor's option names plus `type` and `enabled` (SPEC B-139).
 */
import { z } from 'zod';
import { adapterConfigSchema, configField, type AdapterFields } from '../config-schema.js';
import type { StrategyConfig } from '../types.js';

/** Fields of the `positionalEncoding` adapter type. */
export const positionalEncodingAdapterSchema = adapterConfigSchema({
  /** Model width; must be even. */
  dModel: configField.positiveInt(),
  /** Initial table length L. Default 5000. */
  maxLen: configField.positiveInt().default(5000),
  /** Input scale; `null` or 0 means no scaling. Default 1. */
  xscale: configField.number().nullable().default(1),
});

/** Fields of the `relPositionalEncoding` adapter type (same as `positionalEncoding`). */
export const relPositionalEncodingAdapterSchema = positionalEncodingAdapterSchema.extend({});

/**
 * The default strategy of both positional-encoding types, for the class **and** its config.
 *
 * NeMo note: NeMo's classes default to `ReturnResultAdapterStrategy` but their config dataclasses to
 * `ResidualAddAdapterStrategyConfig`, which would add `x` to a `[x, pe]` pair; both use `returnResult` here.
 */
export const POSITIONAL_DEFAULT_STRATEGY: Readonly<StrategyConfig> = Object.freeze({ type: 'returnResult' });

/** What a caller writes to add a positional-encoding adapter. */
export type PositionalEncodingAdapterConfig = z.input<typeof positionalEncodingAdapterSchema> & {
  type: 'positionalEncoding' | 'relPositionalEncoding';
};
/** The stored form: every default written out. */
export type NormalizedPositionalEncodingAdapterConfig = z.output<typeof positionalEncodingAdapterSchema>;
/** The fields the positional-encoding adapters' constructors take besides the strategy and random source. */
export type PositionalEncodingAdapterFields = AdapterFields<typeof positionalEncodingAdapterSchema>;
