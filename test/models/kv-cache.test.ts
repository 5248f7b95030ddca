/**
 * Key/value-cached generation for CharLM: the same characters as the uncached path from the same
 * seed (with and without LoRA adapters, past the context size too), batched steps over sequences of
 * different lengths and adapters equal to each sequence run alone, and no tensor leak.
 */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import { PeftModel } from '../../src/adapters/index.js';
import '../../src/index.js';
import { CharLM } from '../../src/models/char-lm.js';
import type { SequenceCache } from '../../src/models/kv-cache.js';
import { createRng, manualSeed } from '../../src/rng.js';
import { thrown } from '../helpers.js';

const CFG = { vocabSize: 23, dModel: 32, numLayers: 2, nHead: 4, dFF: 64, maxLen: 24 };

function makeLm(positional: 'learned' | 'sinusoidal' = 'learned'): CharLM {
  manualSeed(3);
  const lm = new CharLM({ ...CFG, positional });
  lm.eval();
  return lm;
}

function withLora(lm: CharLM, names: string[]): PeftModel {
  // initLoraWeights: false gives non-zero B, so each adapter changes the output.
  const cfg = {
    type: 'lora' as const,
    r: 4,
    loraAlpha: 8,
    targetModules: ['q_proj', 'v_proj', 'fc1'],
    initLoraWeights: false,
  };
  manualSeed(11);
  const peft = PeftModel.wrap(lm, cfg, { adapterName: names[0]! });
  for (const n of names.slice(1)) peft.addAdapter(n, cfg);
  peft.eval();
  return peft;
}

const prompt = Int32Array.from([1, 5, 7, 2, 9]);

describe('CharLM key/value cache', () => {
  it.each(['learned', 'sinusoidal'] as const)(
    'generate with the cache gives the same characters as without, from the same seed (%s positions)',
    (pos) => {
      const lm = makeLm(pos);
      for (const seed of [0, 1, 2]) {
        const a = lm.generate(prompt, 15, { temperature: 1, rng: createRng(seed) });
        const b = lm.generate(prompt, 15, { temperature: 1, rng: createRng(seed), cache: false });
        expect(Array.from(a)).toEqual(Array.from(b));
      }
    },
  );

  it('past the context size the window slides exactly as without the cache', () => {
    const lm = makeLm();
    const a = lm.generate(prompt, CFG.maxLen + 10, { temperature: 0.9, rng: createRng(5) });
    const b = lm.generate(prompt, CFG.maxLen + 10, { temperature: 0.9, rng: createRng(5), cache: false });
    expect(a.length).toBe(CFG.maxLen + 10);
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('with a LoRA adapter active, cached and uncached generation agree', () => {
    const lm = makeLm();
    const peft = withLora(lm, ['a']);
    const a = lm.generate(prompt, 12, { rng: createRng(9) });
    const b = lm.generate(prompt, 12, { rng: createRng(9), cache: false });
    expect(Array.from(a)).toEqual(Array.from(b));
    const base = tf.tidy(() => {
      peft.setEnabledAdapters('a', false);
      return lm.generate(prompt, 12, { rng: createRng(9) });
    });
    expect(Array.from(base)).not.toEqual(Array.from(a)); // the adapter really changes the output
  });

  it('a batched step over rows of different lengths and adapters equals each row run alone', () => {
    const lm = makeLm();
    const peft = withLora(lm, ['a', 'b']);
    const prompts = [
      [1, 2, 3, 4, 5, 6, 7],
      [8, 9],
      [3, 3, 3, 1],
    ];
    const adapters = ['a', '__base__', 'b'];
    const last = (logits: Tensor, t: number) =>
      tf.tidy(() => Array.from(tf.slice(logits, [0, t - 1, 0], [1, 1, CFG.vocabSize]).dataSync()));
    // Alone: prefill, then two steps with fixed tokens.
    const alone = prompts.map((p, r) => {
      const cache = lm.newCache();
      const outs: number[][] = [];
      let ids = p;
      for (let s = 0; s < 3; s++) {
        const logits = peft.forward(
          { ids: tf.tensor2d(ids, [1, ids.length], 'int32'), caches: [cache] },
          { adapterNames: [adapters[r]!] },
        ) as Tensor;
        outs.push(last(logits, ids.length));
        logits.dispose();
        ids = [(r + s) % CFG.vocabSize];
      }
      cache.dispose();
      return outs;
    });
    // Batched: each row prefilled alone, then the two steps as one batch.
    const caches: SequenceCache[] = prompts.map(() => lm.newCache());
    prompts.forEach((p, r) => {
      tf.dispose(
        peft.forward(
          { ids: tf.tensor2d(p, [1, p.length], 'int32'), caches: [caches[r]!] },
          { adapterNames: [adapters[r]!] },
        ) as Tensor,
      );
    });
    for (let s = 0; s < 2; s++) {
      const ids = prompts.map((_, r) => (r + s) % CFG.vocabSize);
      const logits = peft.forward(
        { ids: tf.tensor2d(ids, [3, 1], 'int32'), caches },
        { adapterNames: adapters },
      ) as Tensor;
      const rows = tf.tidy(() =>
        tf.unstack(tf.reshape(logits, [3, CFG.vocabSize])).map((t) => Array.from(t.dataSync())),
      );
      logits.dispose();
      rows.forEach((row, r) => row.forEach((v, j) => expect(v).toBeCloseTo(alone[r]![s + 1]![j]!, 4)));
    }
    expect(caches.map((c) => c.length)).toEqual(prompts.map((p) => p.length + 2));
    caches.forEach((c) => c.dispose());
  });

  it('with frozen adapters (as a server loads them) the kept weight stack gives the per-row result and follows reassigned weights', () => {
    const lm = makeLm();
    const peft = withLora(lm, ['a', 'b']);
    for (const [k, p] of lm.namedParameters()) if (k.includes('lora_')) p.trainable = false;
    const ids = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
    const rowAlone = (name: string, r: number) =>
      tf.tidy(() =>
        Array.from((peft.forward(tf.slice(ids, r, 1), { adapterNames: [name] }) as Tensor).dataSync()),
      );
    const check = () => {
      const both = tf.tidy(() =>
        Array.from((peft.forward(ids, { adapterNames: ['a', 'b'] }) as Tensor).dataSync()),
      );
      const expected = [...rowAlone('a', 0), ...rowAlone('b', 1)];
      both.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 4));
    };
    check();
    const [, bWeight] = lm.namedParameters().find(([k]) => k.endsWith('q_proj.lora_B.b.weight'))!;
    bWeight.assign(tf.mul(bWeight, 3)); // a changed frozen weight invalidates the kept stack
    check();
    ids.dispose();
  });

  it('a position-wise linear adapter works with the cache; an attention adapter is refused by the cached forward and generate falls back to the whole window', () => {
    const lm = makeLm();
    lm.addAdapter('lin', { type: 'linear', inFeatures: CFG.dModel, dim: 8 });
    for (const [k, p] of lm.namedParameters())
      if (k.includes('lin')) p.assign(tf.randomNormal(p.shape, 0, 0.3, 'float32', 5));
    const a = lm.generate(prompt, 10, { rng: createRng(4) });
    expect(Array.from(a)).toEqual(Array.from(lm.generate(prompt, 10, { rng: createRng(4), cache: false })));
    lm.addAdapter('att', {
      type: 'transformerMultiHeadAttention',
      hiddenSize: CFG.dModel,
      numAttentionHeads: 2,
    });
    const cache = lm.newCache();
    const err = thrown(() => lm.forward({ ids: tf.tensor2d([1, 2], [1, 2], 'int32'), caches: [cache] }));
    expect(err.code).toBe('UNSUPPORTED_FEATURE');
    expect(err.message).toContain('att');
    expect(Array.from(lm.generate(prompt, 6, { rng: createRng(4) }))).toEqual(
      Array.from(lm.generate(prompt, 6, { rng: createRng(4), cache: false })),
    );
    expect(thrown(() => lm.generate(prompt, 2, { cache: true })).code).toBe('UNSUPPORTED_FEATURE');
  });

  it('the context size is enforced, training mode refused, and the cache is untouched by a failed step', () => {
    const lm = makeLm();
    const cache = lm.newCache();
    const long = Array.from({ length: CFG.maxLen + 1 }, () => 1);
    const err = thrown(() =>
      lm.forward({ ids: tf.tensor2d(long, [1, long.length], 'int32'), caches: [cache] }),
    );
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toContain('maxLen 24');
    expect(cache.length).toBe(0);
    lm.train();
    expect(thrown(() => lm.forward({ ids: tf.tensor2d([1], [1, 1], 'int32'), caches: [cache] })).code).toBe(
      'UNSUPPORTED_FEATURE',
    );
    lm.eval();
    expect(thrown(() => lm.generate(new Int32Array(0), 3)).code).toBe('INVALID_INPUT');
  });

  it('tf.memory().numTensors stays flat over many decoding steps', () => {
    const lm = makeLm();
    const peft = withLora(lm, ['a', 'b']);
    const run = () => {
      const caches = [lm.newCache(), lm.newCache()];
      for (let s = 0; s < 20; s++) {
        const ids =
          s === 0
            ? [
                [1, 2, 3],
                [4, 5, 6],
              ]
            : [[s % 7], [(s + 3) % 7]];
        const t = ids[0]!.length;
        tf.tidy(
          () =>
            void peft.forward(
              { ids: tf.tensor2d(ids.flat(), [2, t], 'int32'), caches },
              { adapterNames: ['a', 'b'] },
            ),
        );
      }
      caches.forEach((c) => c.dispose());
      lm.generate(prompt, 30, { rng: createRng(1) });
    };
    run(); // warm-up: masks and kernels cached on first use
    const before = tf.memory().numTensors;
    run();
    run();
    expect(tf.memory().numTensors).toBe(before);
  });
});
