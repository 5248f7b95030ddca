/**
 * The wrapper config kinds (`lora`, `ia3`). They are not host adapters (SPEC §2.3), so they live in
 * this small registry instead of the adapter type registry: `listAdapterTypes()` is unchanged.
 */
import { AdapterError } from '../../errors.js';
import { describeConfigSchema, type TypeSchema } from '../config-schema.js';
import { ia3ConfigSchema, parseIa3Config, type Ia3Config, type NormalizedIa3Config } from '../ia3/config.js';
import { checkWrapperConfigObject } from '../tuners/config.js';
import { loraConfigSchema, parseLoraConfig, type LoraConfig, type NormalizedLoraConfig } from './config.js';

/** A config `PeftModel` accepts. */
export type WrapperConfig = LoraConfig | Ia3Config;
/** Its stored, normalised form. */
export type NormalizedWrapperConfig = NormalizedLoraConfig | NormalizedIa3Config;

const kinds = {
  lora: { schema: loraConfigSchema, parse: parseLoraConfig },
  ia3: { schema: ia3ConfigSchema, parse: parseIa3Config },
} as const;

/** The wrapper config types, `['lora', 'ia3']`. */
export function listWrapperTypes(): string[] {
  return Object.keys(kinds);
}

/** Schema of a wrapper config type; unknown name → `UNKNOWN_TYPE` listing the valid ones. */
export function getWrapperTypeSchema(name: string): TypeSchema {
  const k = kinds[name as keyof typeof kinds];
  if (!k) throw unknownType(name, 'getWrapperTypeSchema');
  return describeConfigSchema(k.schema);
}

function unknownType(type: unknown, where: string): AdapterError {
  return new AdapterError('UNKNOWN_TYPE', `${where}: wrapper config type ${JSON.stringify(type)} is not one of: ${listWrapperTypes().join(', ')}`, {
    type,
    valid: listWrapperTypes(),
  });
}

/** Validates a `lora` or `ia3` config (dispatch on `type`) and returns a fresh normalised copy. */
export function parseWrapperConfig(cfg: unknown, where: string): NormalizedWrapperConfig {
  checkWrapperConfigObject(cfg, where);
  if (cfg.type === undefined) {
    throw new AdapterError('INVALID_CONFIG', `${where}: the config has no 'type'; wrapper config types: ${listWrapperTypes().join(', ')}`, {
      valid: listWrapperTypes(),
    });
  }
  const k = kinds[cfg.type as keyof typeof kinds];
  if (!k || !Object.prototype.hasOwnProperty.call(kinds, cfg.type as string)) throw unknownType(cfg.type, where);
  return k.parse(cfg, where);
}
