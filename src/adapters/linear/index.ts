import { registerAdapterType } from '../registry.js';
import { linearAdapterSchema } from './config.js';
import { LinearAdapter } from './layer.js';

registerAdapterType('linear', { ctor: LinearAdapter, schema: linearAdapterSchema, defaultStrategy: { type: 'residualAdd' } });

export { LinearAdapter, linearAdapterSchema };
export type { LinearAdapterOptions } from './layer.js';
export type { LinearAdapterConfig } from './config.js';
