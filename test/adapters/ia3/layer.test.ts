/** SPEC §4.8 IA³ (B-267 … B-269), and the part of B-270 about mixing kinds. */
import { describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import { Ia3Linear, PeftModel, type Ia3Config, type LoraConfig } from '../../../src/adapters/index.js';
import { Linear } from '../../../src/nn/layers.js';
import { TinyLM, fill, makeIds, makeInput, randomize, seed } from '../../fixtures/lora-models.js';
import { peftTensorsFor } from '../../../src/io/peft-keys.js';
import { captureLogs, expectClose, maxAbsDiff, thrown, values } from '../../helpers.js';

const lora = (extra: Partial<LoraConfig> = {}): LoraConfig => ({ type: 'lora', ...extra });
const ia3 = (extra: Partial<Ia3Config> = {}): Ia3Config => ({ type: 'ia3', ...extra });

describe('§4.8 IA³', () => {
  function ia3Model(cfg: Partial<Ia3Config>) {
    seed();
    const model = new TinyLM();
    model.eval();
    const peft = PeftModel.wrap(model, ia3({ targetModules: ['v_proj', 'fc2'], ...cfg }));
    return { model, peft };
  }

  it('B-267 IA³ on a non-feed-forward linear: ones leave the output unchanged; ia3_l = 2 doubles it, bias included', () => {
    const { model, peft } = ia3Model({});
    const w = model.getSubmodule('model.layers.0.self_attn.v_proj') as Ia3Linear;
    expect(w).toBeInstanceOf(Ia3Linear);
    const l = w.ia3_l.get('default')!;
    expect(l.shape).toEqual([8, 1]);
    expect(model.stateDict().has('model.layers.0.self_attn.v_proj.ia3_l.default')).toBe(true);
    const x = makeInput(3, 8);
    const base = (w.baseLayer as Linear).forward(x);
    expect(values(w.forward(x))).toEqual(values(base));
    fill(l, 2);
    expectClose(w.forward(x), tf.mul(base, 2), 1e-6);
    expect(l.trainable).toBe(true);
    void peft;
  });

  it('B-268 IA³ on a feed-forward linear: ia3_l is [1, in] and scales the input (not the bias); a non-target feed-forward module → INVALID_CONFIG', () => {
    const { model } = ia3Model({ feedforwardModules: ['fc2'] });
    const w = model.getSubmodule('model.layers.1.mlp.fc2') as Ia3Linear;
    const l = w.ia3_l.get('default')!;
    expect(l.shape).toEqual([1, 16]);
    const lin = w.baseLayer as Linear;
    const x = makeInput(3, 16);
    fill(l, 2);
    const expected = tf.add(tf.mul(tf.matMul(x, lin.weight, false, true), 2), lin.bias!);
    expectClose(w.forward(x), expected, 1e-5);
    expect(
      (model.getSubmodule('model.layers.1.self_attn.v_proj') as Ia3Linear).ia3_l.get('default')!.shape,
    ).toEqual([8, 1]);

    seed();
    const err = thrown(() =>
      PeftModel.wrap(new TinyLM(), ia3({ targetModules: ['v_proj'], feedforwardModules: ['fc2'] })),
    );
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('fc2');
    const err2 = thrown(() =>
      PeftModel.wrap(new TinyLM(), ia3({ targetModules: '.*v_proj', feedforwardModules: ['fc2'] })),
    );
    expect(err2.code).toBe('INVALID_CONFIG');
  });

  it('B-269 IA³ merge then unmerge: merged equals unmerged within 1e-5; unmerge warns it is approximate and restores W and the bias', () => {
    const { model, peft } = ia3Model({ feedforwardModules: ['fc2'] });
    let i = 0;
    for (const [k, p] of model.namedParameters()) if (k.includes('.ia3_l.')) randomize(p, 30 + i++, 0.5);
    const ids = makeIds();
    const y = peft.forward(ids);
    const before = new Map(model.namedParameters().map(([k, p]) => [k, p.clone()]));
    peft.mergeAdapters();
    expectClose(peft.forward(ids), y, 1e-5);
    const v = model.getSubmodule('model.layers.0.self_attn.v_proj') as Ia3Linear;
    expect(maxAbsDiff(v.weight, before.get('model.layers.0.self_attn.v_proj.weight')!)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(v.bias!, before.get('model.layers.0.self_attn.v_proj.bias')!)).toBeGreaterThan(1e-3);
    const fc2 = model.getSubmodule('model.layers.0.mlp.fc2') as Ia3Linear;
    expect(values(fc2.bias!)).toEqual(values(before.get('model.layers.0.mlp.fc2.bias')!)); // feed-forward: bias untouched
    const { warnings } = captureLogs(() => peft.unmergeAdapters());
    expect(warnings.some((w) => /approximate/.test(w))).toBe(true);
    for (const [k, p] of model.namedParameters()) {
      const w0 = before.get(k)!;
      const rel = tf.tidy(
        () => tf.max(tf.div(tf.abs(tf.sub(p, w0)), tf.maximum(tf.abs(w0), 1e-3))).dataSync()[0]!,
      );
      expect(rel, k).toBeLessThan(1e-5);
    }
    expectClose(peft.forward(ids), y, 1e-5);
  });

  it('B-270 adding a LoRA adapter to a model holding IA³ adapters (or the reverse) → UNSUPPORTED_FEATURE naming both; IA³ tensors use the ia3_l PEFT key', () => {
    const { peft } = ia3Model({ feedforwardModules: ['fc2'] });
    const err = thrown(() => peft.addAdapter('lora1', lora({ targetModules: ['q_proj'] })));
    expect(err.code).toBe('UNSUPPORTED_FEATURE');
    expect(err.message).toContain('lora');
    expect(err.message).toContain('ia3');
    expect(peft.adapterNames()).toEqual(['default']);
    const keys = [...peftTensorsFor(peft, 'default').keys()];
    expect(keys).toContain('base_model.model.model.layers.0.self_attn.v_proj.ia3_l');
    expect(
      peftTensorsFor(peft, 'default').get('base_model.model.model.layers.0.mlp.fc2.ia3_l')!.shape,
    ).toEqual([1, 16]);
    expect(peft.peftConfigFor('default')).toEqual({
      type: 'ia3',
      targetModules: ['v_proj', 'fc2'],
      feedforwardModules: ['fc2'],
      excludeModules: null,
      fanInFanOut: false,
      modulesToSave: null,
      initIa3Weights: true,
    });

    seed();
    const other = PeftModel.wrap(new TinyLM(), lora({ targetModules: ['q_proj'] }));
    const err2 = thrown(() => other.addAdapter('x', ia3({ targetModules: ['fc2'] })));
    expect(err2.code).toBe('UNSUPPORTED_FEATURE');
  });
});
