/** Registers the `mam` adapter type (He et al. 2022: prefix tuning plus the scaled parallel adapter). */
import '../strategies/index.js';
import '../parallel/index.js';
import { registerAdapterType } from '../registry.js';
import { mamAdapterSchema } from './config.js';
import { MamAdapter } from './layer.js';

registerAdapterType('mam', {
  ctor: MamAdapter,
  schema: mamAdapterSchema,
  // Never used: the stack prepends the prefix inside attention; the blocks' parallel adapters keep theirs.
  defaultStrategy: { type: 'returnResult' },
});

export { MamAdapter, type MamAdapterOptions } from './layer.js';
export { mamAdapterSchema, mamFfnSchema, type MamAdapterConfig } from './config.js';
