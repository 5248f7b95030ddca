/** `addWeightedAdapter` (PEFT add_weighted_adapter): the cat, svd and linear combinations and misuse. */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { LoraEmbedding, LoraLinear, PeftModel, type LoraConfig } from '../../../src/adapters/index.js';
import type { Module } from '../../../src/nn/module.js';
import { TinyLM, makeIds, randomize, seed } from '../../fixtures/lora-models.js';
import { expectClose, thrown } from '../../helpers.js';

const lora = (extra: Partial<LoraConfig> = {}): LoraConfig => ({ type: 'lora', ...extra });

/** Sets every LoRA factor (and lora_B's bias) to seeded non-zero values. */
function randomizeLora(m: Module, s = 200): void {
  let i = 0;
  for (const [key, p] of m.namedParameters())
    if (/\.lora_(A|B|embedding_A|embedding_B)\b/.test(key)) randomize(p, s + i++, 0.3);
}

describe('addWeightedAdapter (PEFT add_weighted_adapter)', () => {
  function setup() {
    seed(21);
    const model = new TinyLM();
    model.eval();
    const peft = PeftModel.wrap(
      model,
      lora({ targetModules: ['q_proj', 'embed_tokens'], r: 2, loraAlpha: 4 }),
      { adapterName: 'a' },
    );
    peft.addAdapter('b', lora({ targetModules: ['q_proj', 'v_proj'], r: 3, loraAlpha: 6, useRslora: true }));
    peft.addAdapter('c', lora({ targetModules: ['q_proj', 'embed_tokens'], r: 2, loraAlpha: 1 }));
    randomizeLora(model);
    return { model, peft, ids: makeIds() };
  }

  /** The model's output with exactly `names` active. */
  function outputWith(peft: PeftModel, ids: Tensor, names: string[]): Tensor {
    peft.setActiveAdapters(names);
    return peft.forward(ids);
  }

  /** Σ wᵢ·sᵢ·BᵢAᵢ on the LoRA layer at `path`. */
  function weightedDelta(model: Module, path: string, names: string[], weights: number[]): Tensor {
    const w = model.getSubmodule(path) as LoraLinear;
    return tf.tidy(() =>
      names.reduce(
        (acc, n, i) => tf.add(acc, tf.mul(w.deltaWeight(n), weights[i]!)),
        tf.zeros([w.outFeatures, w.inFeatures]) as Tensor,
      ),
    );
  }

  it("'cat' reproduces Σ wᵢ·ΔWᵢ exactly: rank = Σ rᵢ, α = r, union of targets, frozen and not enabled", () => {
    const { model, peft, ids } = setup();
    peft.addWeightedAdapter(['a', 'b'], [1, 1], 'ab', { combinationType: 'cat' });
    const cfg = peft.peftConfigFor('ab');
    expect(cfg).toMatchObject({ r: 5, loraAlpha: 5, useRslora: false, rankPattern: {}, alphaPattern: {} });
    expect(cfg.targetModules).toEqual(['embed_tokens', 'q_proj', 'v_proj']);
    expect(peft.getEnabledAdapters()).not.toContain('ab');
    const q = model.getSubmodule('model.layers.0.self_attn.q_proj') as LoraLinear;
    expect(q.lora_A.get('ab')!.weight.trainable).toBe(false);
    expect(q.lora_A.get('ab')!.weight.shape).toEqual([5, 8]);
    expectClose(outputWith(peft, ids, ['ab']), outputWith(peft, ids, ['a', 'b']), 1e-5);

    peft.addWeightedAdapter(['a', 'c'], [0.5, -2], 'ac', { combinationType: 'cat' });
    const path = 'model.layers.1.self_attn.q_proj';
    expectClose(
      weightedDelta(model, path, ['ac'], [1]),
      weightedDelta(model, path, ['a', 'c'], [0.5, -2]),
      1e-5,
    );
    const emb = model.getSubmodule('model.embed_tokens') as LoraEmbedding;
    expectClose(
      emb.deltaWeight('ac'),
      tf.add(tf.mul(emb.deltaWeight('a'), 0.5), tf.mul(emb.deltaWeight('c'), -2)),
      1e-5,
    );
  });

  it("'svd' at full rank reproduces Σ wᵢ·ΔWᵢ; at lower rank it is the best rank-k approximation (orthonormal A rows)", () => {
    const { model, peft } = setup();
    peft.addWeightedAdapter(['a', 'c'], [1, 0.5], 'full', { combinationType: 'svd', svdRank: 4 });
    const path = 'model.layers.0.self_attn.q_proj';
    expectClose(
      weightedDelta(model, path, ['full'], [1]),
      weightedDelta(model, path, ['a', 'c'], [1, 0.5]),
      1e-5,
    );
    peft.addWeightedAdapter(['a', 'c'], [1, 0.5], 'low', { combinationType: 'svd', svdRank: 1 });
    const w = model.getSubmodule(path) as LoraLinear;
    const A = w.lora_A.get('low')!.weight;
    expect(A.shape).toEqual([1, 8]);
    expect(Math.abs(tf.tidy(() => tf.sum(tf.square(A)).dataSync()[0]!) - 1)).toBeLessThan(1e-5);
    // Eckart–Young: the rank-1 result has norm σ₁ (top singular value, by power iteration) and error² = ‖T‖² − σ₁²
    const target = weightedDelta(model, path, ['a', 'c'], [1, 0.5]);
    const sigma1 = tf.tidy(() => {
      const tt = tf.matMul(target, target, true, false);
      let v: Tensor = tf.ones([8, 1]);
      for (let i = 0; i < 300; i++) v = tf.div(tf.matMul(tt, v), tf.norm(tf.matMul(tt, v)));
      return Math.sqrt(tf.norm(tf.matMul(tt, v)).dataSync()[0]!);
    });
    const low = weightedDelta(model, path, ['low'], [1]);
    const norm = (t: Tensor) => tf.tidy(() => tf.norm(t).dataSync()[0]!);
    expect(Math.abs(norm(low) - sigma1)).toBeLessThan(1e-4);
    expect(Math.abs(norm(tf.sub(low, target)) ** 2 - (norm(target) ** 2 - sigma1 ** 2))).toBeLessThan(1e-4);
    // default rank: the largest source rank
    peft.addWeightedAdapter(['a', 'b'], [1, 1], 'dflt');
    expect(
      peft.peftConfigFor('dflt').type === 'lora' && (peft.peftConfigFor('dflt') as { r: number }).r,
    ).toBe(3);
  });

  it("'linear' combines A's and B's with √|wᵢsᵢ| (equal ranks only); one source gives w·ΔW", () => {
    const { model, peft } = setup();
    const path = 'model.layers.0.self_attn.q_proj';
    const w = model.getSubmodule(path) as LoraLinear;
    peft.addWeightedAdapter(['a'], [-0.5], 'neg', { combinationType: 'svd' }); // one source: linear whatever is given
    expectClose(weightedDelta(model, path, ['neg'], [1]), weightedDelta(model, path, ['a'], [-0.5]), 1e-5);
    peft.addWeightedAdapter(['a', 'c'], [1, 2], 'lin', { combinationType: 'linear' });
    const sa = 2; // 4 / 2
    const sc = 0.5; // 1 / 2
    const expA = tf.add(
      tf.mul(w.lora_A.get('a')!.weight, Math.sqrt(sa)),
      tf.mul(w.lora_A.get('c')!.weight, Math.sqrt(2 * sc)),
    );
    const expB = tf.add(
      tf.mul(w.lora_B.get('a')!.weight, Math.sqrt(sa)),
      tf.mul(w.lora_B.get('c')!.weight, Math.sqrt(2 * sc)),
    );
    expectClose(w.lora_A.get('lin')!.weight, expA, 1e-6);
    expectClose(w.lora_B.get('lin')!.weight, expB, 1e-6);
    const err = thrown(() =>
      peft.addWeightedAdapter(['a', 'b'], [1, 1], 'bad', { combinationType: 'linear' }),
    );
    expect(err.code).toBe('INVALID_CONFIG');
    expect(peft.adapterNames()).not.toContain('bad');
  });

  it('misuse: existing name → DUPLICATE_ADAPTER; unknown source → UNKNOWN_ADAPTER; weights of the wrong length → INVALID_CONFIG; DoRA → UNSUPPORTED_FEATURE', () => {
    const { peft } = setup();
    expect(thrown(() => peft.addWeightedAdapter(['a'], [1], 'b')).code).toBe('DUPLICATE_ADAPTER');
    expect(thrown(() => peft.addWeightedAdapter(['a', 'zz'], [1, 1], 'n')).code).toBe('UNKNOWN_ADAPTER');
    expect(thrown(() => peft.addWeightedAdapter(['a', 'b'], [1], 'n')).code).toBe('INVALID_CONFIG');
    expect(
      thrown(() => peft.addWeightedAdapter(['a', 'b'], [1, 1], 'n', { combinationType: 'ties' as 'cat' }))
        .code,
    ).toBe('INVALID_CONFIG');
    peft.addAdapter('d', lora({ targetModules: ['q_proj'], useDora: true }));
    expect(thrown(() => peft.addWeightedAdapter(['a', 'd'], [1, 1], 'n')).code).toBe('UNSUPPORTED_FEATURE');
    expect(peft.adapterNames()).toEqual(['a', 'b', 'c', 'd']);
  });
});
