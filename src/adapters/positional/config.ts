/**
 * Config schemas of the positional-encoding adapter types (SPEC §2.9.4). Each schema's field set is
 * the constructor's option names plus `type` and `enabled` (SPEC B-139).
 */
import { ConfigSchema, field } from '../schema.js';
import type { StrategyConfig } from '../types.js';

function positionalSchema(): ConfigSchema {
  return new ConfigSchema({
    type: field.string(),
    enabled: field.boolean({ default: true }),
    dModel: field.positiveInt(),
    maxLen: field.positiveInt({ default: 5000 }),
    xscale: field.number({ default: 1, nullable: true }),
    adapterStrategy: field.strategy({ default: null, nullable: true }),
  });
}

/** Fields of the `positionalEncoding` adapter type. */
export const positionalEncodingAdapterSchema = positionalSchema();

/** Fields of the `relPositionalEncoding` adapter type (same as `positionalEncoding`). */
export const relPositionalEncodingAdapterSchema = positionalSchema();

/**
 * The default strategy of both positional-encoding types, for the class **and** its config.
 *
 * NeMo note: NeMo's classes default to `ReturnResultAdapterStrategy` but their config dataclasses to
 * `ResidualAddAdapterStrategyConfig`, which would add `x` to a `[x, pe]` pair; both use `returnResult` here.
 */
export const POSITIONAL_DEFAULT_STRATEGY: Readonly<StrategyConfig> = Object.freeze({ type: 'returnResult' });

/** What a caller writes to add a positional-encoding adapter. */
export interface PositionalEncodingAdapterConfig {
  type: 'positionalEncoding' | 'relPositionalEncoding';
  /** Model width; must be even. */
  dModel: number;
  /** Initial table length L. Default 5000. */
  maxLen?: number;
  /** Input scale; `null` or 0 means no scaling. Default 1. */
  xscale?: number | null;
  /** Default `{type: 'returnResult'}`. */
  adapterStrategy?: StrategyConfig | null;
  /** Default true. */
  enabled?: boolean;
}
