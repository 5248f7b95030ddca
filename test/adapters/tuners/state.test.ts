import { describe, expect, it } from 'vitest';
import { PeftModel, adapterStateDict, type LoraConfig } from '../../../src/adapters/index.js';
import { TinyLM, seed } from '../../fixtures/lora-models.js';

const lora = (extra: Partial<LoraConfig> = {}): LoraConfig => ({ type: 'lora', ...extra });

describe('adapterStateDict (SPEC §3.10)', () => {
  it('B-170 adapterStateDict keys = trainable parameter paths + running stats of library-frozen batch norms', () => {
    seed();
    const model = new TinyLM({ classifier: true });
    const peft = PeftModel.wrap(model, lora({ targetModules: ['q_proj', 'v_proj'] }));
    const trainable = model
      .namedParameters()
      .filter(([, p]) => p.trainable)
      .map(([k]) => k);
    const expected = [...trainable, 'norm.running_mean', 'norm.running_var', 'norm.num_batches_tracked'];
    expect([...adapterStateDict(model).keys()].sort()).toEqual(expected.sort());
    expect([...peft.adapterStateDict().keys()].sort()).toEqual(expected.sort());
  });
});
