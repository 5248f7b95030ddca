import { registerAdapterType } from '../registry.js';
import { declareRowwiseAdapter } from '../rowwise.js';
import { linearAdapterSchema } from './config.js';
import { LinearAdapter } from './layer.js';
import { linearRowwise } from './rowwise.js';

registerAdapterType('linear', {
  ctor: LinearAdapter,
  schema: linearAdapterSchema,
  defaultStrategy: { type: 'residualAdd' },
});
declareRowwiseAdapter(LinearAdapter, linearRowwise);

export { LinearAdapter, linearAdapterSchema };
export type { LinearAdapterOptions } from './layer.js';
export type { LinearAdapterConfig } from './config.js';
