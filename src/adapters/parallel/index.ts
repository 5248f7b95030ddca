/** Registers the `parallel` adapter type (He et al. 2021 parallel / scaled-parallel bottleneck adapter). */
// The default strategy must be registered before an adapter of this kind can be built.
import '../strategies/index.js';
import { registerAdapterType } from '../registry.js';
import { PARALLEL_DEFAULT_STRATEGY, parallelAdapterSchema } from './config.js';
import { ParallelAdapter } from './layer.js';

registerAdapterType('parallel', {
  ctor: ParallelAdapter,
  schema: parallelAdapterSchema,
  defaultStrategy: { ...PARALLEL_DEFAULT_STRATEGY },
});

export { ParallelAdapter } from './layer.js';
export type { ParallelAdapterOptions } from './layer.js';
export { PARALLEL_DEFAULT_STRATEGY, parallelAdapterSchema } from './config.js';
export type { ParallelAdapterConfig } from './config.js';
