import { describe, expect, it } from 'vitest';
import { getWrapperTypeSchema, listWrapperTypes, parseVeraConfig } from '../../../src/adapters/index.js';
import { thrown } from '../../helpers.js';

describe('parseVeraConfig', () => {
  it("writes PEFT's VeraConfig defaults out and returns a fresh copy", () => {
    const cfg = { type: 'vera', targetModules: ['q_proj', 'v_proj', 'q_proj'] };
    const out = parseVeraConfig(cfg);
    expect(out).toEqual({
      type: 'vera',
      r: 256,
      targetModules: ['q_proj', 'v_proj'],
      excludeModules: null,
      modulesToSave: null,
      projectionPrngKey: 0,
      saveProjection: true,
      veraDropout: 0,
      dInitial: 0.1,
      fanInFanOut: false,
      bias: 'none',
      initWeights: true,
      layersToTransform: null,
      layersPattern: null,
    });
    expect(out.targetModules).not.toBe(cfg.targetModules);
    expect(cfg.targetModules).toHaveLength(3);
  });

  it('is a registered wrapper type with an introspectable schema', () => {
    expect(listWrapperTypes()).toContain('vera');
    const schema = getWrapperTypeSchema('vera');
    expect(schema.fields.r!.default).toBe(256);
    expect(schema.fields.bias!.choices).toEqual(['none', 'all', 'vera_only']);
  });

  it('bad values → INVALID_CONFIG naming the field and what it accepts', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ r: 0 }, 'r'],
      [{ r: 2.5 }, 'r'],
      [{ veraDropout: 1.5 }, 'veraDropout'],
      [{ bias: 'lora_only' }, 'vera_only'],
      [{ projectionPrngKey: 0.5 }, 'projectionPrngKey'],
      [{ saveProjection: 'yes' }, 'saveProjection'],
      [{ dInitial: 'big' }, 'dInitial'],
      [{ loraAlpha: 8 }, 'loraAlpha'],
    ];
    for (const [extra, needle] of cases) {
      const e = thrown(() => parseVeraConfig({ type: 'vera', targetModules: ['q'], ...extra }));
      expect(e.code).toBe('INVALID_CONFIG');
      expect(e.message).toContain(needle);
    }
    expect(thrown(() => parseVeraConfig(null)).code).toBe('INVALID_CONFIG');
  });

  it("PEFT's cross-field rules: layersPattern needs layersToTransform, which needs list targets", () => {
    const p = thrown(() => parseVeraConfig({ type: 'vera', targetModules: ['q'], layersPattern: 'layers' }));
    expect(p.code).toBe('INVALID_CONFIG');
    expect(p.message).toContain('layersPattern');
    const s = thrown(() => parseVeraConfig({ type: 'vera', targetModules: '.*q', layersToTransform: [0] }));
    expect(s.code).toBe('INVALID_CONFIG');
    expect(s.message).toContain('layersToTransform');
    const re = thrown(() => parseVeraConfig({ type: 'vera', targetModules: '((' }));
    expect(re.code).toBe('INVALID_CONFIG');
    expect(re.message).toContain('targetModules');
    expect(
      parseVeraConfig({ type: 'vera', targetModules: ['q'], layersToTransform: 1, layersPattern: 'layers' })
        .layersToTransform,
    ).toBe(1);
  });
});
