/** PeftModel management: disabling adapters for a call, misuse, parents holding children in fields, tensor counts. */
import { describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import { LoraLinear, PeftModel, type LoraConfig } from '../../../src/adapters/index.js';
import { Linear } from '../../../src/nn/layers.js';
import type { Module } from '../../../src/nn/module.js';
import { TestModel, makeX, routing, seed as seedSpec } from '../../fixtures/spec-models.js';
import { TinyLM, makeIds, randomize, seed } from '../../fixtures/lora-models.js';
import { maxAbsDiff, thrown, values } from '../../helpers.js';

const lora = (extra: Partial<LoraConfig> = {}): LoraConfig => ({ type: 'lora', ...extra });

/** Sets every lora_A / lora_B (and B's bias) in the model to seeded non-zero values (SPEC §4 intro). */
function randomizeLora(m: Module, s = 100): void {
  let i = 0;
  for (const [key, p] of m.namedParameters()) {
    if (/\.lora_(A|B|embedding_A|embedding_B)\./.test(key) || /\.lora_embedding_[AB]\.[^.]+$/.test(key))
      randomize(p, s + i++);
  }
}

describe('PeftModel management', () => {
  it('withAdaptersDisabled restores the adapters after fn returns or throws; merged adapters are unmerged meanwhile', () => {
    seed();
    const model = new TinyLM();
    const ids = makeIds();
    const y0 = values(model.forward(ids));
    const peft = PeftModel.wrap(model, lora({ targetModules: ['q_proj'] }));
    randomizeLora(model);
    const y = values(peft.forward(ids));
    expect(() =>
      peft.withAdaptersDisabled(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(values(peft.forward(ids))).toEqual(y);
    peft.mergeAdapters();
    const inside = peft.withAdaptersDisabled(() => values(peft.forward(ids)));
    expect(Math.max(...inside.map((v, i) => Math.abs(v - y0[i]!)))).toBeLessThan(1e-5);
    expect(peft.isMerged('default')).toBe(true);
    expect(Math.max(...values(peft.forward(ids)).map((v, i) => Math.abs(v - y[i]!)))).toBeLessThan(1e-5);
  });

  it('wrapping twice → UNSUPPORTED_FEATURE; duplicate, invalid and unknown names are rejected', () => {
    seed();
    const model = new TinyLM();
    const peft = PeftModel.wrap(model, lora({ targetModules: ['q_proj'] }));
    expect(thrown(() => PeftModel.wrap(model, lora({ targetModules: ['v_proj'] }))).code).toBe(
      'UNSUPPORTED_FEATURE',
    );
    expect(thrown(() => peft.addAdapter('default', lora({ targetModules: ['v_proj'] }))).code).toBe(
      'DUPLICATE_ADAPTER',
    );
    expect(thrown(() => peft.addAdapter('a.b', lora({ targetModules: ['v_proj'] }))).code).toBe(
      'INVALID_ADAPTER_NAME',
    );
    expect(thrown(() => peft.setEnabledAdapters('zz')).code).toBe('UNKNOWN_ADAPTER');
  });

  it('a parent that holds its child in a field (this.fc) sees the wrapper; unload puts the Linear back in both places', () => {
    seedSpec();
    const m = new TestModel(routing('enc'));
    m.eval();
    const x = makeX();
    const y0 = values(m.forward(x));
    const peft = PeftModel.wrap(m, lora({ targetModules: ['fc'], r: 2 }));
    expect(m.encoder.fc as Module).toBeInstanceOf(LoraLinear);
    randomizeLora(m);
    expect(maxAbsDiff(peft.forward(x), tf.tensor(y0, [2, 50]))).toBeGreaterThan(1e-3);
    peft.unload();
    expect(m.encoder.fc).toBeInstanceOf(Linear);
    expect(m.encoder.getChild('fc')).toBe(m.encoder.fc);
    expect(values(m.forward(x))).toEqual(y0);
  });

  it('merge, unmerge, delete and unload leave the tensor count where it started', () => {
    seed();
    const model = new TinyLM({ classifier: true });
    const ids = makeIds();
    const start = tf.memory().numTensors;
    const peft = PeftModel.wrap(
      model,
      lora({ targetModules: ['q_proj', 'embed_tokens'], modulesToSave: ['classifier'] }),
    );
    peft.addAdapter('d', lora({ targetModules: ['v_proj'], useDora: true }));
    randomizeLora(model);
    tf.dispose(peft.forward(ids));
    peft.mergeAdapters(undefined, { safeMerge: true });
    peft.unmergeAdapters();
    peft.mergeAdapters(['d']);
    peft.deleteAdapter('d');
    peft.unload();
    expect(tf.memory().numTensors).toBe(start);
  });
});
