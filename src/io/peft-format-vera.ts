/**
 * VeRA as a PEFT directory (`peft_type: "VERA"`, PEFT's `VeraConfig`, SPEC §5.4): the key mapping.
 * The tensors are `base_model.model.<path>.vera_lambda_b` / `.vera_lambda_d` and, with
 * `save_projection`, the shared projections `base_model.vera_A` / `base_model.vera_B`; without them
 * the reader regenerates the projections from `projection_prng_key`.
 */
import type { NormalizedVeraConfig } from '../adapters/vera/config.js';
import { AdapterError } from '../errors.js';
import { registerPeftFormat } from './peft-formats.js';

registerPeftFormat({
  peftType: 'VERA',
  method: 'vera',
  optionKeys: {
    r: 'r',
    target_modules: 'targetModules',
    projection_prng_key: 'projectionPrngKey',
    save_projection: 'saveProjection',
    vera_dropout: 'veraDropout',
    d_initial: 'dInitial',
    fan_in_fan_out: 'fanInFanOut',
    bias: 'bias',
    modules_to_save: 'modulesToSave',
    init_weights: 'initWeights',
    layers_to_transform: 'layersToTransform',
    layers_pattern: 'layersPattern',
  } satisfies Record<string, keyof NormalizedVeraConfig>,
  setKeys: [],
  defaultTargetsHint: 'defaultLoraTargets',
  writeOptions(cfg) {
    // PEFT's VeraConfig has no exclude_modules: writing the adapter without it would target more.
    if (cfg.type === 'vera' && cfg.excludeModules !== null) {
      throw new AdapterError(
        'UNSUPPORTED_FEATURE',
        `savePretrained: VeRA adapter with excludeModules ${JSON.stringify(cfg.excludeModules)} cannot be saved as a PEFT directory (PEFT's VeraConfig has no exclude_modules); list the targets in targetModules instead`,
        { field: 'excludeModules' },
      );
    }
  },
  toConfig: (options) => ({ type: 'vera', ...options }),
});
