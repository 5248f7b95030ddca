/**
 * SPEC §3.9 Layered and attention hosts (B-157 … B-166): fan-out hosts (§2.7 "Layered hosts"),
 * blocks with the `'mha'` and `'post'` insertion points (§2.7 "Attention hosts"), on the layered
 * `AdapterHost` stack of `fixtures/layered.ts` and the conformer-style fixtures of
 * `fixtures/conformer.ts`.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  TransformerDecoderAdapter,
  TransformerEncoderAdapter,
  buildAdapter,
  type AdapterConfig,
  type AdapterHostModule,
} from '../../src/adapters/index.js';
import type { Module } from '../../src/nn/module.js';
import { tf, type Tensor } from '../../src/backend/tf.js';
import { Parallel, Stack } from '../../src/adapters/composition/index.js';
import type { TransformerDecoderBlockAdapter } from '../../src/adapters/transformer-hosts.js';
import { parseAdapterFile } from '../../src/io/adapter-file.js';
import { CharLM } from '../../src/models/char-lm.js';
import { EncoderClassifier } from '../../src/models/encoder-classifier.js';
import { MlpClassifier } from '../../src/models/mlp-classifier.js';
import { createRng, setRng } from '../../src/rng.js';
import { maxAbsDiff, thrown } from '../helpers.js';
import { randomize } from './composition/fixture.js';
import { seed } from '../fixtures/spec-models.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** Parameter count of one `linear` adapter: `2·in·dim + 2·in` (SPEC §2.9.2). */
const linearCount = (inF: number, dim: number) => 2 * inF * dim + 2 * inF;

/** A transformer attention config. */
function transformerAtt(
  hiddenSize: number,
  numAttentionHeads: number,
  extra: Record<string, unknown> = {},
): AdapterConfig {
  return { type: 'transformerMultiHeadAttention', hiddenSize, numAttentionHeads, ...extra } as AdapterConfig;
}

/** A `linear` config of width `inFeatures`. */
function lin(inFeatures: number, dim = 8, extra: Record<string, unknown> = {}): AdapterConfig {
  return { type: 'linear', inFeatures, dim, ...extra } as AdapterConfig;
}

/** The adapter-layer hosts of a layered module (`adapterLayers()`). */
function layersOf(m: Module): AdapterHostModule[] {
  return (m as unknown as { adapterLayers(): AdapterHostModule[] }).adapterLayers();
}

beforeEach(() => seed());

// ---------------------------------------------------------------------------------------------

describe("the library's transformer hosts (SPEC §3.9)", () => {
  it("B-157 the library's TransformerEncoderAdapter / TransformerDecoderAdapter, constructed directly, add N × the count", () => {
    for (const make of [
      () => new TransformerEncoderAdapter({ dModel: 16, nHead: 2, dFF: 32, numLayers: 3 }),
      () => new TransformerDecoderAdapter({ dModel: 16, nHead: 2, dFF: 32, numLayers: 3 }),
    ]) {
      const stack = make();
      const before = stack.numParameters();
      stack.addAdapter('adapter_0', lin(16, 8));
      stack.addAdapter('adapter_1', transformerAtt(16, 2));
      expect(stack.numParameters() - before).toBe(
        3 * (linearCount(16, 8) + buildAdapter(transformerAtt(16, 2)).numParameters()),
      );
      for (const b of layersOf(stack)) expect(b.heldAdapterNames()).toEqual(['adapter_0', 'adapter_1']);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Insertion points at model level: saved and restored with the adapter; composition setups.

describe('adapter locations in models', () => {
  /** A tiny character LM (vocab 12, d 16, 2 layers), seeded. */
  function tinyLM(s = 5): CharLM {
    setRng(createRng(s));
    return new CharLM({ vocabSize: 12, dModel: 16, numLayers: 2, nHead: 2, dFF: 32, maxLen: 8 });
  }
  const ids = () => tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0], [2, 6], 'int32');
  const blocks = (lm: CharLM) =>
    (lm.getChild('decoder') as unknown as { blocks(): TransformerDecoderBlockAdapter[] }).blocks();

  it('the location is saved with the adapter (adapter file and config tree) and restored: outputs equal bit for bit', () => {
    const lm = tinyLM();
    lm.addAdapter('x', lin(16, 4, { location: 'ffnOutput' }));
    for (const [path, m] of lm.namedModules()) if (/adapter_layer\.x$/.test(path)) randomize(m, 3);
    lm.eval();
    const want = lm.forward(ids());
    expect(blocks(lm).map((b) => b.adapterLocation('x'))).toEqual(['ffnOutput', 'ffnOutput']);
    expect((lm.cfg.adapters!.x as { location?: string }).location).toBe('ffnOutput');

    const bytes = lm.saveAdapters('x');
    expect((parseAdapterFile(bytes).config.x as { location?: string }).location).toBe('ffnOutput');
    const fresh = tinyLM();
    fresh.loadAdapters(bytes);
    fresh.eval();
    expect(blocks(fresh).map((b) => b.adapterLocation('x'))).toEqual(['ffnOutput', 'ffnOutput']);
    expect(maxAbsDiff(fresh.forward(ids()), want)).toBe(0);

    // The config tree rebuilds it at the same point.
    const rebuilt = new CharLM(structuredClone(lm.cfg));
    expect(blocks(rebuilt).map((b) => b.adapterLocation('x'))).toEqual(['ffnOutput', 'ffnOutput']);
    [lm, fresh, rebuilt].forEach((m) => m.dispose());
  });

  it('key/value-cached steps run the adapters at the same points as a full forward', () => {
    const lm = tinyLM();
    lm.addAdapter('in', lin(16, 4, { location: 'input' }));
    lm.addAdapter('att', lin(16, 4, { location: 'attentionOutput' }));
    lm.addAdapter('ffn', lin(16, 4, { location: 'ffnOutput' }));
    let s = 1;
    for (const [path, m] of lm.namedModules()) if (/adapter_layer\.\w+$/.test(path)) randomize(m, s++);
    lm.eval();
    const tokens = [1, 2, 3, 4, 5, 6];
    const full = lm.forward(tf.tensor2d(tokens, [1, 6], 'int32'));
    const cache = lm.newCache();
    const prefill = lm.forward({ ids: tf.tensor2d(tokens.slice(0, 4), [1, 4], 'int32'), caches: [cache] });
    const step = lm.forward({ ids: tf.tensor2d(tokens.slice(4), [1, 2], 'int32'), caches: [cache] });
    expect(maxAbsDiff(tf.concat([prefill, step], 1), full)).toBeLessThan(1e-5);
    cache.dispose();
    lm.dispose();
  });

  it('a bad location at model level fails on the first block and leaves no trace; a plain host rejects any location', () => {
    const lm = tinyLM();
    const before = structuredClone(lm.cfg.adapters ?? {});
    const err = thrown(() => lm.addAdapter('x', lin(16, 4, { location: 'between' })));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('between');
    expect(err.message).toContain('parallelFfn');
    expect(lm.cfg.adapters ?? {}).toEqual(before);
    expect(blocks(lm).map((b) => b.heldAdapterNames())).toEqual([[], []]);

    setRng(createRng(1));
    const mlp = new MlpClassifier({ inFeatures: 4, hidden: [8], numClasses: 2 });
    const err2 = thrown(() =>
      mlp.addAdapter('x', { type: 'linear', inFeatures: 8, dim: 2, location: 'post' }),
    );
    expect(err2.code).toBe('INVALID_CONFIG');
    expect(err2.message).toContain('offers no insertion points');
    [lm, mlp].forEach((m) => m.dispose());
  });

  it("Parallel('a','b') with both adapters at 'input': the batch is replicated at the first point and the padding mask follows it", () => {
    setRng(createRng(11));
    const model = new EncoderClassifier({
      vocabSize: 12,
      dModel: 8,
      numLayers: 2,
      nHead: 2,
      dFF: 16,
      maxLen: 8,
      numClasses: 3,
    });
    model.addAdapter('a', lin(8, 4, { location: 'input' }));
    model.addAdapter('b', lin(8, 4, { location: 'input' }));
    let s = 1;
    for (const [path, m] of model.namedModules()) if (/adapter_layer\.[ab]$/.test(path)) randomize(m, s++);
    model.eval();
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 0, 0], [2, 5], 'int32');
    const mask = tf.tensor2d([0, 0, 0, 0, 0, 0, 0, 0, 1, 1], [2, 5], 'bool');
    const run = (setup: Parameters<typeof model.setActiveSetup>[0]): Tensor => {
      model.setActiveSetup(setup);
      return model.forward(x, mask);
    };
    const onlyA = run(Stack('a'));
    const onlyB = run(Stack('b'));
    const par = run(Parallel('a', 'b'));
    expect(par.shape).toEqual([4, 3]);
    expect(maxAbsDiff(tf.slice(par, 0, 2), onlyA)).toBeLessThan(1e-6);
    expect(maxAbsDiff(tf.slice(par, 2, 2), onlyB)).toBeLessThan(1e-6);
    expect(maxAbsDiff(onlyA, onlyB)).toBeGreaterThan(1e-3);
    model.dispose();
  });
});
