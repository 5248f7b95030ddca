/** VeRA: config, shared projections, wrapper layer, and its registration as a tuner method. */
import { registerTunerMethod } from '../tuners/registry.js';
import { veraMethod } from './model.js';

registerTunerMethod(veraMethod);

export {
  VERA_BIAS_CHOICES,
  parseVeraConfig,
  veraConfigSchema,
  type NormalizedVeraConfig,
  type VeraBiasMode,
  type VeraConfig,
} from './config.js';
export { VeraLinear, type VeraAdapterOptions } from './layer.js';
export { veraMethod, veraProjectionSizes } from './model.js';
export {
  VeraProjectionPair,
  generateVeraProjections,
  veraKaimingBound,
  type VeraProjections,
} from './projection.js';
