/** Registers the `prefixTuning` adapter type (PEFT's prefix tuning, held by transformer stacks). */
import '../strategies/index.js';
import { registerAdapterType } from '../registry.js';
import { prefixTuningSchema } from './config.js';
import { PrefixTuningAdapter } from './layer.js';

registerAdapterType('prefixTuning', {
  ctor: PrefixTuningAdapter,
  schema: prefixTuningSchema,
  // Never used: a prefix is prepended inside attention, not combined with a host's output.
  defaultStrategy: { type: 'returnResult' },
});

export { PrefixTuningAdapter, type PrefixTuningAdapterOptions } from './layer.js';
export { mergeAndUnloadPrefix, isStackAdapterType, type PrefixSource, type StackSizes } from './hosts.js';
export { prefixTuningSchema, type PrefixTuningConfig } from './config.js';
