/** IA³: config, wrapper layer, and its registration as a tuner method. */
import { registerTunerMethod } from '../tuners/registry.js';
import { ia3Method } from './model.js';

registerTunerMethod(ia3Method);

export { ia3ConfigSchema, parseIa3Config, type Ia3Config, type NormalizedIa3Config } from './config.js';
export { Ia3Linear, IA3_UNMERGE_EPS } from './layer.js';
export { ia3Method } from './model.js';
