/** IA³ as a PEFT directory (`peft_type: "IA3"`, PEFT's `IA3Config`): the key mapping. */
import type { NormalizedIa3Config } from '../adapters/ia3/config.js';
import { registerPeftFormat } from './peft-formats.js';

registerPeftFormat({
  peftType: 'IA3',
  method: 'ia3',
  optionKeys: {
    target_modules: 'targetModules',
    feedforward_modules: 'feedforwardModules',
    exclude_modules: 'excludeModules',
    fan_in_fan_out: 'fanInFanOut',
    modules_to_save: 'modulesToSave',
    init_ia3_weights: 'initIa3Weights',
  } satisfies Record<string, keyof NormalizedIa3Config>,
  setKeys: ['feedforward_modules'],
  defaultTargetsHint: 'defaultIa3Targets',
  toConfig: (options) => ({ type: 'ia3', ...options }),
});
