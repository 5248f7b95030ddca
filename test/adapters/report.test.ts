/** SPEC §4.7 trainable-parameter report (B-259 … B-262). */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { PeftModel, formatTrainableParameters, trainableParameterReport } from '../../src/adapters/index.js';
import { getSubmodule } from '../../src/adapters/model.js';
import { Linear } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import { TestModel, cfgPre, routing, seed as seedSpec } from '../fixtures/spec-models.js';
import { TinyLM, seed } from '../fixtures/lora-models.js';

describe('§4.7 trainable-parameter report', () => {
  it('B-259 {trainable: 3686400, total: 3089625088} formats as PEFT prints it', () => {
    expect(formatTrainableParameters({ trainable: 3686400, total: 3089625088 })).toBe(
      'trainable params: 3,686,400 || all params: 3,089,625,088 || trainable%: 0.1193',
    );
    expect(formatTrainableParameters({ trainable: 0, total: 0 })).toBe(
      'trainable params: 0 || all params: 0 || trainable%: 0.0000',
    );
  });

  it('B-260 TestModel, frozen base, one enabled global adapter (enc only): 10 100 trainable of 5 300 + 10 100; byAdapter.adapter_0 = 10 100', () => {
    seedSpec();
    const m = new TestModel(routing('enc'));
    m.freeze();
    m.addAdapter('adapter_0', cfgPre);
    m.unfreezeEnabledAdapters();
    const r = trainableParameterReport(m);
    expect(r.trainable).toBe(10100);
    expect(r.total).toBe(5300 + 10100);
    expect(r.percent).toBeCloseTo((100 * 10100) / 15400, 10);
    expect(r.byAdapter).toEqual({ adapter_0: 10100 });
  });

  it('B-261 a parameter shared by two modules is counted once in total', () => {
    const root = new Module();
    const a = root.registerModule('a', new Linear({ inFeatures: 4, outFeatures: 3 }));
    const b = root.registerModule('b', new Module());
    b.registerParameter('tied', a.weight);
    const r = trainableParameterReport(root);
    expect(r.total).toBe(12 + 3);
    expect(r.trainable).toBe(15);
    a.weight.trainable = false;
    expect(trainableParameterReport(root)).toMatchObject({ trainable: 3, total: 15 });
    void tf;
  });

  it('B-262 a LoRA model reports per-adapter counts Σ r·(in + out) over its wrapped linears', () => {
    seed();
    const model = new TinyLM({ d: 8, h: 16 });
    const peft = PeftModel.wrap(
      model,
      { type: 'lora', targetModules: ['q_proj', 'fc1'], r: 4 },
      { adapterName: 'a' },
    );
    peft.addAdapter('b', {
      type: 'lora',
      targetModules: ['v_proj'],
      r: 2,
      rankPattern: { 'layers\\.1\\..*': 3 },
    });
    const r = trainableParameterReport(peft);
    const a = 2 * 4 * (8 + 8) + 2 * 4 * (8 + 16);
    const b = 2 * (8 + 8) + 3 * (8 + 8);
    expect(r.byAdapter).toEqual({ a, b });
    expect(r.trainable).toBe(a + b);
    expect(r.total).toBe(model.numParameters());
    expect(trainableParameterReport(model)).toEqual(r);
    // frozen adapters report 0
    peft.setAdapterTrainable('b', false);
    expect(trainableParameterReport(peft).byAdapter).toEqual({ a, b: 0 });
    expect(getSubmodule(model, 'model.layers.0.mlp.fc1')).not.toBeInstanceOf(Linear);
  });
});
