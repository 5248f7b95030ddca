/** Registers the `infused` adapter type (IA³ scaling, SPEC §2.9.5). */
// The default strategies must be registered before an adapter of this kind can be built.
import '../strategies/index.js';
import { registerAdapterType } from '../registry.js';
import { INFUSED_DEFAULT_STRATEGY, infusedAdapterSchema } from './config.js';
import { InfusedAdapter } from './layer.js';

registerAdapterType('infused', {
  ctor: InfusedAdapter,
  schema: infusedAdapterSchema,
  defaultStrategy: { ...INFUSED_DEFAULT_STRATEGY },
});

export { InfusedAdapter } from './layer.js';
export type { InfusedAdapterOptions } from './layer.js';
export { INFUSED_DEFAULT_STRATEGY, infusedAdapterSchema } from './config.js';
export type { InfusedAdapterConfig } from './config.js';
