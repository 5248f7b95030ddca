/**
 * LoRA as a PEFT directory (`peft_type: "LORA"`, SPEC §4.1 table and §4.3): the key mapping, the
 * PEFT features the library refuses or keeps inert, and the `init_lora_weights` values it reads.
 */
import type { NormalizedLoraConfig } from '../adapters/lora/config.js';
import { AdapterError } from '../errors.js';
import { logger } from '../logger.js';
import { registerPeftFormat } from './peft-formats.js';

/**
 * PEFT LoRA keys for features the library cannot honour, with PEFT's defaults. A file holding any
 * other value is refused (`UNSUPPORTED_FEATURE`); they are written at these defaults.
 */
export const PEFT_LORA_UNSUPPORTED_DEFAULTS: Readonly<Record<string, unknown>> = {
  layer_replication: null,
  target_parameters: null,
  use_qalora: false,
  trainable_token_indices: null,
  megatron_config: null,
  alora_invocation_tokens: null,
  velora_config: null,
  monteclora_config: null,
  use_bdlora: null,
  arrow_config: null,
  kasa_config: null,
};

/**
 * PEFT LoRA keys that have no effect once the weights come from a file (they configure inits the
 * reader refuses, or features that are off), with PEFT's defaults. Read values are kept and written
 * back for the same adapter, so a round trip preserves them.
 */
export const PEFT_LORA_INERT_DEFAULTS: Readonly<Record<string, unknown>> = {
  megatron_core: 'megatron.core',
  loftq_config: {},
  eva_config: null,
  corda_config: null,
  lora_ga_config: null,
  qalora_group_size: 16,
  ensure_weight_tying: false,
};

/** `init_lora_weights` values the reader accepts (others rewrite base weights at load). */
const READABLE_INITS: readonly unknown[] = [true, false, 'gaussian'];

registerPeftFormat({
  peftType: 'LORA',
  method: 'lora',
  optionKeys: {
    r: 'r',
    lora_alpha: 'loraAlpha',
    lora_dropout: 'loraDropout',
    target_modules: 'targetModules',
    exclude_modules: 'excludeModules',
    layers_to_transform: 'layersToTransform',
    layers_pattern: 'layersPattern',
    rank_pattern: 'rankPattern',
    alpha_pattern: 'alphaPattern',
    fan_in_fan_out: 'fanInFanOut',
    bias: 'bias',
    use_rslora: 'useRslora',
    modules_to_save: 'modulesToSave',
    lora_bias: 'loraBias',
    init_lora_weights: 'initLoraWeights',
    use_dora: 'useDora',
  } satisfies Record<string, keyof NormalizedLoraConfig>,
  setKeys: [],
  defaultTargetsHint: 'defaultLoraTargets',
  unsupportedDefaults: PEFT_LORA_UNSUPPORTED_DEFAULTS,
  inertDefaults: PEFT_LORA_INERT_DEFAULTS,
  checkFile(json, where) {
    if (Object.hasOwn(json, 'init_lora_weights') && !READABLE_INITS.includes(json.init_lora_weights)) {
      throw new AdapterError(
        'UNSUPPORTED_FEATURE',
        `${where}: init_lora_weights = ${JSON.stringify(json.init_lora_weights)} is not supported when loading (it rewrites the base weights at load); supported: true, false, "gaussian"`,
        { key: 'init_lora_weights', value: json.init_lora_weights, valid: READABLE_INITS },
      );
    }
    if (Object.hasOwn(json, 'ensure_weight_tying') && json.ensure_weight_tying !== false) {
      logger().warn(
        `${where}: ensure_weight_tying = ${JSON.stringify(json.ensure_weight_tying)} has no effect in this library (adapters on tied layers are not tied)`,
      );
    }
  },
  // PEFT treats a null pattern map as empty.
  readOption: (key, value) =>
    value === null && (key === 'rank_pattern' || key === 'alpha_pattern') ? {} : value,
  writeOptions(cfg, out) {
    // Library-only inits have no PEFT name; the weights come from the file, so PEFT's default is right.
    if (cfg.type === 'lora' && typeof cfg.initLoraWeights === 'string' && cfg.initLoraWeights !== 'gaussian')
      out.init_lora_weights = true;
  },
  toConfig: (options) => ({ type: 'lora', ...options }),
});
