import { describe, expect, it } from 'vitest';
import {
  checkLayerSelection,
  checkPatterns,
  checkWrapperConfigObject,
  modulesToSaveField,
  targetField,
} from '../../../src/adapters/tuners/config.js';
import { thrown } from '../../helpers.js';

describe('config fields shared by tuner methods', () => {
  it('checkWrapperConfigObject accepts a plain object and rejects anything else with INVALID_CONFIG naming where', () => {
    expect(() => checkWrapperConfigObject({ type: 'lora' }, 'lora config')).not.toThrow();
    for (const bad of [null, 42, 'lora', ['lora']]) {
      const e = thrown(() => checkWrapperConfigObject(bad, 'lora config'));
      expect(e.code).toBe('INVALID_CONFIG');
      expect(e.message).toContain('lora config');
      expect(e.message).toContain('expected a config object');
    }
  });

  it('checkPatterns compiles regex-valued fields: a bad pattern fails at parse time, lists and all-linear pass', () => {
    expect(() => checkPatterns({ targetModules: ['q_proj', '(('] }, 'w')).not.toThrow();
    expect(() => checkPatterns({ targetModules: 'all-linear' }, 'w')).not.toThrow();
    expect(() => checkPatterns({ targetModules: '.*\\.q_proj', excludeModules: 'fc\\d' }, 'w')).not.toThrow();
    const t = thrown(() => checkPatterns({ targetModules: 'q_proj((' }, 'w'));
    expect(t.code).toBe('INVALID_CONFIG');
    expect(t.message).toContain('targetModules');
    const x = thrown(() => checkPatterns({ excludeModules: '[' }, 'w'));
    expect(x.code).toBe('INVALID_CONFIG');
    expect(x.message).toContain('excludeModules');
  });

  it("checkLayerSelection applies PEFT's layer-selection rules for every method: list targets, layersPattern with layersToTransform, patterns compile", () => {
    const ok = { targetModules: ['q'], layersToTransform: [0], layersPattern: 'layers' };
    expect(() => checkLayerSelection(ok, 'cfg')).not.toThrow();
    const str = thrown(() =>
      checkLayerSelection({ targetModules: 'q', layersToTransform: [0], layersPattern: null }, 'cfg'),
    );
    expect(str.code).toBe('INVALID_CONFIG');
    expect(str.message).toMatch(/cfg: layersToTransform cannot be used when targetModules is a string/);
    expect(
      thrown(() =>
        checkLayerSelection({ targetModules: ['q'], layersToTransform: null, layersPattern: 'x' }, 'cfg'),
      ).message,
    ).toMatch(/layersPattern \("x"\) requires layersToTransform/);
    expect(thrown(() => checkLayerSelection({ ...ok, layersPattern: ['(unclosed'] }, 'cfg')).code).toBe(
      'INVALID_CONFIG',
    );
  });

  it('targetField takes a regex string or a list of names, default null; modulesToSaveField only lists', () => {
    expect(targetField().parse(undefined)).toBeNull();
    expect(targetField().parse('.*q')).toBe('.*q');
    expect(targetField().parse(['q_proj'])).toEqual(['q_proj']);
    expect(targetField().safeParse(['']).success).toBe(false);
    expect(targetField().safeParse(42).success).toBe(false);
    expect(modulesToSaveField().parse(undefined)).toBeNull();
    expect(modulesToSaveField().parse(['classifier'])).toEqual(['classifier']);
    expect(modulesToSaveField().safeParse('classifier').success).toBe(false);
  });
});
