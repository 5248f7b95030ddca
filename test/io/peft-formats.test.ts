import { describe, expect, it } from 'vitest';
import { listPeftTypes, parsePeftConfig, registerPeftFormat } from '../../src/io/index.js';
import { AdapterError } from '../../src/errors.js';
import { thrown } from '../helpers.js';

describe('PEFT format registry', () => {
  it('lists the built-in formats and refuses a second format for a peft_type or a method (REGISTRY_CONFLICT)', () => {
    expect(listPeftTypes()).toEqual(['LORA', 'IA3', 'VERA']);
    const base = {
      optionKeys: {},
      setKeys: [],
      defaultTargetsHint: 'x',
      toConfig: () => ({ type: 'lora' as const }),
    };
    const sameType = thrown(() => registerPeftFormat({ ...base, peftType: 'LORA', method: 'other' }));
    expect(sameType).toBeInstanceOf(AdapterError);
    expect(sameType.code).toBe('REGISTRY_CONFLICT');
    expect(sameType.message).toContain("peft_type 'LORA'");
    const sameMethod = thrown(() => registerPeftFormat({ ...base, peftType: 'OTHER', method: 'ia3' }));
    expect(sameMethod.code).toBe('REGISTRY_CONFLICT');
    expect(sameMethod.message).toContain("tuner method 'ia3'");
    expect(listPeftTypes()).toEqual(['LORA', 'IA3', 'VERA']);
  });

  it('reads a newly registered peft_type through its key mapping, and names it among the supported types', () => {
    registerPeftFormat({
      peftType: 'TOY_LORA',
      method: 'toy-lora',
      optionKeys: { target_modules: 'targetModules', r: 'r' },
      setKeys: [],
      defaultTargetsHint: 'defaultLoraTargets',
      // Reads as a LoRA config so the result is a config the library accepts.
      toConfig: (options) => ({ type: 'lora', ...options }),
    });
    const parsed = parsePeftConfig(
      { peft_type: 'TOY_LORA', target_modules: ['q_proj'], r: 4 },
      'adapter_config.json',
      null,
    );
    expect(parsed.peftType).toBe('TOY_LORA');
    expect(parsed.config).toEqual({ type: 'lora', targetModules: ['q_proj'], r: 4 });
    const unknown = thrown(() => parsePeftConfig({ peft_type: 'LOHA' }, 'adapter_config.json', null));
    expect(unknown.code).toBe('UNSUPPORTED_FEATURE');
    expect(unknown.message).toContain('LORA, IA3, VERA, TOY_LORA');
    expect(unknown.details).toMatchObject({ valid: ['LORA', 'IA3', 'VERA', 'TOY_LORA'] });
  });
});
