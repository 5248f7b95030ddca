/** The `lora` wrapper config (SPEC §4.1): B-172 field checks through PeftModel.wrap, and parseLoraConfig's PEFT cross-field rules. */
import { describe, expect, it } from 'vitest';
import { PeftModel, loraScaling, parseLoraConfig, type LoraConfig } from '../../../src/adapters/index.js';
import { Linear } from '../../../src/nn/layers.js';
import { Holder, TinyLM, fill, makeIds, seed, snapshot } from '../../fixtures/lora-models.js';
import { thrown, values } from '../../helpers.js';

const lora = (extra: Partial<LoraConfig> = {}): LoraConfig => ({ type: 'lora', ...extra });

describe('B-172 config fields', () => {
  it('B-172 a field outside the §4.1 table → INVALID_CONFIG naming it and listing the valid fields', () => {
    const model = new Holder({ lin: new Linear({ inFeatures: 4, outFeatures: 4 }) });
    const before = snapshot(model);
    const err = thrown(() =>
      PeftModel.wrap(model, { ...lora({ targetModules: ['lin'] }), dropoutPosition: 'pre' } as LoraConfig),
    );
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('dropoutPosition');
    for (const f of [
      'r',
      'loraAlpha',
      'loraDropout',
      'targetModules',
      'useRslora',
      'initLoraWeights',
      'useDora',
      'modulesToSave',
    ]) {
      expect(err.message).toContain(f);
    }
    expect([...snapshot(model).keys()]).toEqual([...before.keys()]);
    expect(model.getChild('lin')).toBeInstanceOf(Linear);
  });

  /** Everything a config can change: keys, shapes, flags, values, and a training-mode output with B set non-zero. */
  function signature(extra: Partial<LoraConfig>) {
    seed(77);
    const model = new TinyLM();
    const ids = makeIds();
    const peft = PeftModel.wrap(
      model,
      lora({ targetModules: ['q_proj', 'fc1'], r: 4, loraAlpha: 8, ...extra }),
    );
    const params = model.namedParameters();
    const sig = {
      keys: params.map(([k]) => k),
      shapes: params.map(([, p]) => p.shape),
      trainable: params.map(([, p]) => p.trainable),
      values: params.map(([, p]) => values(p)),
    };
    for (const [key, p] of model.namedParameters()) if (/\.lora_B\.default\.weight$/.test(key)) fill(p, 0.3);
    peft.train();
    seed(5);
    const out = values(peft.forward(ids));
    return { ...sig, out };
  }

  it.each<[string, Partial<LoraConfig>]>([
    ['loraDropout', { loraDropout: 0.5 }],
    ['useRslora', { useRslora: true }],
    ['loraBias', { loraBias: true }],
    ['bias', { bias: 'all' }],
    ['initLoraWeights', { initLoraWeights: false }],
  ])('B-172 a non-default %s changes outputs, values, shapes or trainable flags [F]', (_field, extra) => {
    const a = signature({});
    const b = signature(extra);
    expect(b).not.toEqual(a);
  });

  it('B-172 the default config built twice from the same seed gives the same signature', () => {
    expect(signature({})).toEqual(signature({}));
  });
});

describe('parseLoraConfig', () => {
  it('writes every default out, deduplicates list targets and leaves the caller object untouched', () => {
    const cfg = Object.freeze({ type: 'lora', targetModules: Object.freeze(['q_proj', 'v_proj', 'q_proj']) });
    const out = parseLoraConfig(cfg);
    expect(out.targetModules).toEqual(['q_proj', 'v_proj']);
    expect(out.r).toBe(8);
    expect(out.layersToTransform).toBeNull();
    expect(cfg.targetModules).toEqual(['q_proj', 'v_proj', 'q_proj']);
  });

  it.each<[string, Partial<LoraConfig>, string]>([
    [
      'layersToTransform with a regex target',
      { targetModules: '.*q_proj', layersToTransform: [0] },
      'layersToTransform',
    ],
    [
      'layersPattern without layersToTransform',
      { targetModules: ['q_proj'], layersPattern: 'layers' },
      'layersPattern',
    ],
    ['loraBias with DoRA', { targetModules: ['q_proj'], loraBias: true, useDora: true }, 'loraBias'],
    [
      'loraBias with gaussian init',
      { targetModules: ['q_proj'], loraBias: true, initLoraWeights: 'gaussian' },
      'loraBias',
    ],
    ['a bad rankPattern regex', { targetModules: ['q_proj'], rankPattern: { '((': 4 } }, 'rankPattern'],
  ])('PEFT cross-field rule: %s → INVALID_CONFIG naming the field', (_case, extra, field) => {
    const e = thrown(() => parseLoraConfig(lora(extra)));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain(field);
  });

  it('loraScaling is α/r, or α/√r with rsLoRA', () => {
    expect(loraScaling(8, 16, false)).toBe(2);
    expect(loraScaling(16, 8, true)).toBe(2);
  });
});
