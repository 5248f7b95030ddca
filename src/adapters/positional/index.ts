/** Registers the positional-encoding adapter types `positionalEncoding` and `relPositionalEncoding` (SPEC §2.9.4). */
// The default strategies must be registered before an adapter of this kind can be built.
import '../strategies/index.js';
import { registerAdapterType } from '../registry.js';
import {
  POSITIONAL_DEFAULT_STRATEGY,
  positionalEncodingAdapterSchema,
  relPositionalEncodingAdapterSchema,
} from './config.js';
import { PositionalEncodingAdapter, RelPositionalEncodingAdapter } from './layer.js';

registerAdapterType('positionalEncoding', {
  ctor: PositionalEncodingAdapter,
  schema: positionalEncodingAdapterSchema,
  defaultStrategy: { ...POSITIONAL_DEFAULT_STRATEGY },
});
registerAdapterType('relPositionalEncoding', {
  ctor: RelPositionalEncodingAdapter,
  schema: relPositionalEncodingAdapterSchema,
  defaultStrategy: { ...POSITIONAL_DEFAULT_STRATEGY },
});

export { PositionalEncodingAdapter, RelPositionalEncodingAdapter, sinusoidTable } from './layer.js';
export type { PositionalEncodingAdapterOptions } from './layer.js';
export {
  POSITIONAL_DEFAULT_STRATEGY,
  positionalEncodingAdapterSchema,
  relPositionalEncodingAdapterSchema,
} from './config.js';
export type { PositionalEncodingAdapterConfig } from './config.js';
