/**
 * Prefix tuning in the library's transformers (SPEC §5.3): the stack holds the prefixes and each
 * block's self-attention gets its layer's keys and values (B-331), causal independence (B-332),
 * padding (B-333), enable/disable, delete, composition setups, per-sample selection, key/value-cached
 * generation, training and tensor leaks.
 */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import {
  Average,
  Stack,
  TransformerDecoderBlockAdapter,
  TransformerEncoderAdapter,
} from '../../../src/adapters/index.js';
import { PrefixTuningAdapter } from '../../../src/adapters/prefix/layer.js';
import { mergeAndUnloadPrefix, prefixForBlock } from '../../../src/adapters/prefix/hosts.js';
import { CharLM } from '../../../src/models/char-lm.js';
import { EncoderClassifier } from '../../../src/models/encoder-classifier.js';
import type { Linear } from '../../../src/nn/layers.js';
import type { Module } from '../../../src/nn/module.js';
import type { TransformerDecoder, TransformerBlock } from '../../../src/nn/transformer.js';
import { normal } from '../../../src/nn/init.js';
import { createRng, manualSeed } from '../../../src/rng.js';
import { AdamW } from '../../../src/train/adamw.js';
import { crossEntropy } from '../../../src/train/losses.js';
import { maxAbsDiff, thrown } from '../../helpers.js';

const D = 16;

function tinyLM(): CharLM {
  manualSeed(5);
  return new CharLM({ vocabSize: 12, dModel: D, numLayers: 2, nHead: 2, dFF: 32, maxLen: 8 });
}

function ids(b = 2, t = 8, s = 1): Tensor {
  const rng = createRng(s);
  return tf.tensor2d(
    Array.from({ length: b }, () => Array.from({ length: t }, () => Math.floor(rng.next() * 12))),
    [b, t],
    'int32',
  );
}

function bytes(t: Tensor): number[] {
  const d = t.dataSync() as Float32Array;
  return Array.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
}

const decoderOf = (lm: CharLM) => lm.getChild('decoder') as TransformerDecoder;

/** `y = x·Wᵀ + b` with the built-in matMul (independent of the library's kernels). */
function lin(m: Module, x: Tensor): Tensor {
  const l = m as Linear;
  return tf.add(tf.matMul(tf.reshape(x, [-1, l.weight.shape[1]!]), l.weight, false, true), l.bias!);
}

function layerNorm(m: Module, x: Tensor): Tensor {
  const { weight, bias } = m as unknown as { weight: Tensor; bias: Tensor };
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), weight), bias);
}

/**
 * One pre-LN causal block written out: attention over `[prefix; real]` keys and values with a
 * causal mask on the real ones, computed with plain tf ops.
 */
function directBlock(block: TransformerBlock, x: Tensor, pk: Tensor, pv: Tensor): Tensor {
  const [b, t, d] = x.shape as [number, number, number];
  const h = block.nHead;
  const dk = d / h;
  const p = pk.shape[0]!;
  const attn = block.getChild('self_attn')!;
  const n1 = layerNorm(block.getChild('norm1')!, x);
  const rows = (u: Tensor) => tf.tile(tf.expandDims(u, 0), [b, 1, 1]);
  const heads = (u: Tensor, n: number) => tf.transpose(tf.reshape(u, [b, n, h, dk]), [0, 2, 1, 3]);
  const q = heads(tf.reshape(lin(attn.getChild('q_proj')!, n1), [b, t, d]), t);
  const k = heads(tf.concat([rows(pk), tf.reshape(lin(attn.getChild('k_proj')!, n1), [b, t, d])], 1), p + t);
  const v = heads(tf.concat([rows(pv), tf.reshape(lin(attn.getChild('v_proj')!, n1), [b, t, d])], 1), p + t);
  const future = Array.from({ length: t }, (_, i) =>
    Array.from({ length: p + t }, (_, j) => (j >= p && j - p > i ? -1e9 : 0)),
  );
  const scores = tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(dk)), tf.tensor2d(future));
  const ctx = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), v), [0, 2, 1, 3]), [b, t, d]);
  const a = tf.reshape(lin(attn.getChild('out_proj')!, ctx), [b, t, d]);
  const hMid = tf.add(x, a);
  const ffn = block.getChild('ffn')!;
  const n2 = layerNorm(block.getChild('norm2')!, hMid);
  const f1 = lin(ffn.getChild('fc1')!, n2);
  const gelu = tf.mul(tf.mul(f1, 0.5), tf.add(1, tf.erf(tf.div(f1, Math.SQRT2))));
  return tf.add(hMid, tf.reshape(lin(ffn.getChild('fc2')!, gelu), [b, t, d]));
}

describe('prefix tuning on a transformer stack', () => {
  it("takes location 'attention' (its one insertion point, the default) and refuses any other, naming it", () => {
    const lm = tinyLM();
    lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 2, location: 'attention' });
    expect(lm.adapterNames()).toContain('p');
    const e = thrown(() =>
      lm.addAdapter('decoder:q', { type: 'prefixTuning', numVirtualTokens: 2, location: 'post' }),
    );
    expect(e.code).toBe('UNSUPPORTED_TARGET');
    expect(e.message).toMatch(/location 'attention'; got location "post"/);
    expect(lm.adapterNames()).not.toContain('q');
  });

  it('B-331 with known prefixes, every layer’s attention is a direct softmax over [prefix; real]: the decoder output matches a written-out forward within 1e-5', () => {
    const lm = tinyLM();
    lm.eval();
    lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 3 });
    const table = (lm.getAdapterModule('p') as PrefixTuningAdapter).getChild('embedding') as unknown as {
      weight: tf.Variable;
    };
    const known = normal([3, 2 * 2 * D], 1, createRng(42));
    table.weight.assign(known);
    const decoder = decoderOf(lm);
    const x = normal([2, 6, D], 1, createRng(7));
    const y = decoder.forward(x);
    const expected = tf.tidy(() => {
      let h = x;
      decoder.blocks().forEach((block, l) => {
        const pk = tf.slice(known, [0, 2 * l * D], [3, D]);
        const pv = tf.slice(known, [0, (2 * l + 1) * D], [3, D]);
        h = directBlock(block, h, pk, pv);
      });
      return layerNorm(decoder.getChild('norm')!, h);
    });
    expect(maxAbsDiff(y, expected)).toBeLessThan(1e-5);
    // Each block takes its own layer's slice.
    const blocks = decoder.blocks();
    tf.tidy(() => {
      const p1 = prefixForBlock(blocks[1]!)!;
      expect(maxAbsDiff(p1.k, tf.slice(known, [0, 2 * D], [3, D]))).toBe(0);
      expect(maxAbsDiff(p1.v, tf.slice(known, [0, 3 * D], [3, D]))).toBe(0);
    });
    lm.dispose();
  });

  it('B-332 a causal LM with a prefix: changing a later token leaves earlier outputs unchanged bit for bit', () => {
    const lm = tinyLM();
    lm.eval();
    lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 4 });
    const a = tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8]], [1, 8], 'int32');
    const b = tf.tensor2d([[1, 2, 3, 4, 5, 9, 0, 11]], [1, 8], 'int32');
    const ya = lm.forward(a);
    const yb = lm.forward(b);
    expect(bytes(tf.slice(ya, [0, 0, 0], [1, 5, 12]))).toEqual(bytes(tf.slice(yb, [0, 0, 0], [1, 5, 12])));
    expect(
      maxAbsDiff(tf.slice(ya, [0, 5, 0], [1, 1, 12]), tf.slice(yb, [0, 5, 0], [1, 1, 12])),
    ).toBeGreaterThan(0);
    // The output length and the real tokens' positions are unchanged: position 0 sees the prefix and itself.
    expect(ya.shape).toEqual([1, 8, 12]);
    lm.dispose();
  });

  it('B-333 key padding: padded real positions stay masked, prefix positions stay visible, a fully padded row attends only to the prefix', () => {
    manualSeed(9);
    const enc = new TransformerEncoderAdapter({ numLayers: 2, dModel: D, nHead: 2, dFF: 32 });
    enc.eval();
    enc.addAdapter('p', { type: 'prefixTuning', numVirtualTokens: 2 });
    const x = normal([2, 4, D], 1, createRng(3));
    const pad = tf.tensor2d(
      [
        [0, 0, 1, 1],
        [1, 1, 1, 1],
      ],
      [2, 4],
    );
    const y = enc.forward(x, { keyPaddingMask: pad });
    // Changing the padded positions of row 0 leaves its real positions unchanged.
    const noise = normal([1, 2, D], 5, createRng(4));
    const x2 = tf.concat(
      [tf.concat([tf.slice(x, [0, 0, 0], [1, 2, D]), noise], 1), tf.slice(x, [1, 0, 0], [1, 4, D])],
      0,
    );
    const y2 = enc.forward(x2, { keyPaddingMask: pad });
    expect(maxAbsDiff(tf.slice(y, [0, 0, 0], [1, 2, D]), tf.slice(y2, [0, 0, 0], [1, 2, D]))).toBeLessThan(
      1e-6,
    );
    // Row 1 is fully padded: position 0 attends only to the prefix (and runs its own query), so the
    // other positions' values do not reach it; without the prefix they would (a uniform average).
    const x3 = tf.concat(
      [
        tf.slice(x, [0, 0, 0], [1, 4, D]),
        tf.concat([tf.slice(x, [1, 0, 0], [1, 1, D]), normal([1, 3, D], 5, createRng(6))], 1),
      ],
      0,
    );
    const y3 = enc.forward(x3, { keyPaddingMask: pad });
    expect(maxAbsDiff(tf.slice(y, [1, 0, 0], [1, 1, D]), tf.slice(y3, [1, 0, 0], [1, 1, D]))).toBeLessThan(
      1e-6,
    );
    expect(Number.isFinite(tf.sum(y3).dataSync()[0]!)).toBe(true);
    enc.setEnabledAdapters('p', false);
    const z = enc.forward(x, { keyPaddingMask: pad });
    const z3 = enc.forward(x3, { keyPaddingMask: pad });
    expect(maxAbsDiff(tf.slice(z, [1, 0, 0], [1, 1, D]), tf.slice(z3, [1, 0, 0], [1, 1, D]))).toBeGreaterThan(
      1e-3,
    );
    enc.dispose();
  });

  it('B-333 in the encoder classifier: the ids at padded positions do not change the logits with a prefix; a fully padded row gets finite logits', () => {
    manualSeed(12);
    const clf = new EncoderClassifier({
      vocabSize: 12,
      dModel: D,
      numLayers: 2,
      nHead: 2,
      dFF: 32,
      maxLen: 6,
      numClasses: 3,
    });
    clf.eval();
    clf.addAdapter('encoder:p', { type: 'prefixTuning', numVirtualTokens: 2 });
    const mask = tf.tensor2d(
      [
        [0, 0, 0, 1, 1, 1],
        [1, 1, 1, 1, 1, 1],
      ],
      [2, 6],
      'bool',
    );
    const a = tf.tensor2d(
      [
        [1, 2, 3, 4, 5, 6],
        [7, 8, 9, 10, 11, 0],
      ],
      [2, 6],
      'int32',
    );
    const b = tf.tensor2d(
      [
        [1, 2, 3, 9, 9, 9],
        [0, 0, 0, 0, 0, 0],
      ],
      [2, 6],
      'int32',
    );
    const ya = clf.forward(a, mask);
    const yb = clf.forward(b, mask);
    expect(maxAbsDiff(tf.slice(ya, [0, 0], [1, 3]), tf.slice(yb, [0, 0], [1, 3]))).toBeLessThan(1e-6);
    expect(Number.isFinite(tf.sum(yb).dataSync()[0]!)).toBe(true);
    clf.dispose();
  });

  it('disabled and deleted → the base output bit for bit; the stack holds the adapter, blocks hold nothing', () => {
    const lm = tinyLM();
    lm.eval();
    const x = ids();
    const base = bytes(lm.forward(x));
    lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 3 });
    const on = bytes(lm.forward(x));
    expect(on).not.toEqual(base);
    const decoder = decoderOf(lm) as unknown as {
      heldAdapterNames(): string[];
      peekAdapterLayer(): { keys(): string[] };
    };
    expect(decoder.peekAdapterLayer().keys()).toEqual(['p']);
    for (const b of decoderOf(lm).blocks())
      expect((b as unknown as { heldAdapterNames(): string[] }).heldAdapterNames()).toEqual([]);
    expect(lm.getEnabledAdapters()).toEqual(['p']);
    lm.setEnabledAdapters('p', false);
    expect(lm.getEnabledAdapters()).toEqual([]);
    expect(bytes(lm.forward(x))).toEqual(base);
    lm.setEnabledAdapters('p', true);
    expect(bytes(lm.forward(x))).toEqual(on);
    lm.deleteAdapter('p');
    expect(lm.adapterNames()).toEqual([]);
    expect(bytes(lm.forward(x))).toEqual(base);
    lm.dispose();
  });

  it('two prefix adapters run together, their prefixes concatenated in execution order', () => {
    const lm = tinyLM();
    lm.eval();
    lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 2 });
    lm.addAdapter('decoder:q', { type: 'prefixTuning', numVirtualTokens: 3 });
    const block = decoderOf(lm).blocks()[0]!;
    tf.tidy(() => {
      const both = prefixForBlock(block)!;
      expect(both.k.shape).toEqual([5, D]);
      const p = (lm.getAdapterModule('p') as PrefixTuningAdapter).layerPrefix(0);
      expect(maxAbsDiff(tf.slice(both.k, [0, 0], [2, D]), p.k)).toBe(0);
    });
    lm.dispose();
  });

  it('added to a block directly → UNSUPPORTED_TARGET naming the stack; a failed add on the model leaves no trace', () => {
    manualSeed(3);
    const block = new TransformerDecoderBlockAdapter({ dModel: D, nHead: 2, dFF: 32 });
    const e = thrown(() => block.addAdapter('p', { type: 'prefixTuning', numVirtualTokens: 2 }));
    expect(e.code).toBe('UNSUPPORTED_TARGET');
    expect(e.message).toContain('transformer stack');
    expect(block.heldAdapterNames()).toEqual([]);
    block.dispose();

    const lm = tinyLM();
    const before = lm.namedParameters().length;
    const bad = thrown(() =>
      lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 2, tokenDim: 32 }),
    );
    expect(bad.code).toBe('INVALID_CONFIG');
    expect(bad.message).toContain('tokenDim 32');
    expect(bad.message).toContain('16');
    const noProj = thrown(() =>
      lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 2, encoderHiddenSize: 8 }),
    );
    expect(noProj.code).toBe('INVALID_CONFIG');
    expect(noProj.message).toContain('prefixProjection');
    expect(lm.adapterNames()).toEqual([]);
    expect(lm.namedParameters().length).toBe(before);
    lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 2, tokenDim: 16, numLayers: 2 });
    const dup = thrown(() => lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 2 }));
    expect(dup.code).toBe('DUPLICATE_ADAPTER');
    lm.dispose();
  });

  it('composition: Stack(p) equals the default, a setup without p drops it, Average(p, q) → UNSUPPORTED_FEATURE', () => {
    const lm = tinyLM();
    lm.eval();
    const x = ids();
    const base = bytes(lm.forward(x));
    lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 2 });
    lm.addAdapter('decoder:a', { type: 'linear', inFeatures: D, dim: 4 });
    const chain = bytes(lm.forward(x));
    lm.setActiveSetup(Stack('p', 'a'));
    expect(bytes(lm.forward(x))).toEqual(chain);
    lm.setEnabledAdapters('a', false);
    lm.setActiveSetup(null);
    const onlyP = bytes(lm.forward(x));
    lm.setEnabledAdapters('a', true);
    lm.setActiveSetup('a');
    const onlyA = bytes(lm.forward(x));
    expect(onlyA).not.toEqual(onlyP);
    lm.setActiveSetup(Stack('p'));
    expect(bytes(lm.forward(x))).toEqual(onlyP);
    lm.setActiveSetup(Average('p', 'a'));
    const e = thrown(() => lm.forward(x));
    expect(e.code).toBe('UNSUPPORTED_FEATURE');
    expect(e.message).toContain("'p'");
    expect(e.message).toContain('Stack');
    lm.setActiveSetup(null);
    lm.setEnabledAdapters(null, false);
    expect(bytes(lm.forward(x))).toEqual(base);
    lm.dispose();
  });

  it('per-sample selection naming a prefix adapter → UNSUPPORTED_FEATURE; other names still route', () => {
    const lm = tinyLM();
    lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 2 });
    lm.addAdapter('decoder:a', { type: 'linear', inFeatures: D, dim: 4 });
    const block = decoderOf(lm).blocks()[0] as unknown as TransformerDecoderBlockAdapter;
    const x = normal([2, 3, D], 1, createRng(1));
    const e = thrown(() => block.forwardEnabledAdapters(x, { adapterNames: ['p', 'a'] }));
    expect(e.code).toBe('UNSUPPORTED_FEATURE');
    expect(e.message).toContain("'p'");
    const y = block.forwardEnabledAdapters(x, { adapterNames: ['a', '__base__'] });
    expect(y.shape).toEqual([2, 3, D]);
    lm.dispose();
  });

  it('key/value-cached generation with a prefix equals uncached generation', () => {
    const lm = tinyLM();
    lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 3 });
    lm.addAdapter('decoder:q', { type: 'prefixTuning', numVirtualTokens: 2, prefixProjection: true });
    const prompt = Int32Array.from([1, 2, 3]);
    // A first run fills the library's causal-mask cache (kept masks, shared by all layers).
    lm.generate(prompt, 5, { rng: createRng(4), cache: true });
    lm.generate(prompt, 5, { rng: createRng(4), cache: false });
    const before = tf.memory().numTensors;
    const cached = lm.generate(prompt, 5, { rng: createRng(4), cache: true });
    const plain = lm.generate(prompt, 5, { rng: createRng(4), cache: false });
    expect(Array.from(cached)).toEqual(Array.from(plain));
    expect(tf.memory().numTensors).toBe(before);
    // And the cached logits themselves match the full forward.
    lm.eval();
    const x = tf.tensor2d([[1, 2, 3, 4, 5]], [1, 5], 'int32');
    const full = lm.forward(x);
    const cache = lm.newCache();
    const first = lm.forward({ ids: tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'), caches: [cache] });
    const next = lm.forward({ ids: tf.tensor2d([[4, 5]], [1, 2], 'int32'), caches: [cache] });
    expect(maxAbsDiff(tf.concat([first, next], 1), full)).toBeLessThan(1e-5);
    cache.dispose();
    lm.dispose();
  });

  it('training: only the prefix parameters are trainable and get gradients, the loss falls, tensor counts stay flat', () => {
    const lm = tinyLM();
    lm.addAdapter('decoder:p', {
      type: 'prefixTuning',
      numVirtualTokens: 4,
      prefixProjection: true,
      encoderHiddenSize: 8,
    });
    lm.freeze();
    lm.unfreezeEnabledAdapters();
    lm.train();
    const named = lm.namedParameters().filter(([, p]) => p.trainable);
    expect(named.map(([k]) => k).sort()).toEqual(
      [
        'decoder.adapter_layer.p.embedding.weight',
        'decoder.adapter_layer.p.transform.0.weight',
        'decoder.adapter_layer.p.transform.0.bias',
        'decoder.adapter_layer.p.transform.2.weight',
        'decoder.adapter_layer.p.transform.2.bias',
      ].sort(),
    );
    const x = ids(4, 8, 2);
    const targets = ids(4, 8, 3);
    const opt = new AdamW(named, { lr: 3e-2, weightDecay: 0 });
    const vars = named.map(([, p]) => p);
    const losses: number[] = [];
    let tensors = 0;
    for (let step = 0; step < 25; step++) {
      if (step === 2) tensors = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() => crossEntropy(lm.forward(x), targets), vars);
      if (step === 0) {
        for (const g of Object.values(grads)) expect(tf.max(tf.abs(g)).dataSync()[0]!).toBeGreaterThan(0);
      }
      losses.push(value.dataSync()[0]!);
      opt.step(grads);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! - 0.05);
    opt.dispose();
    lm.dispose();
  });

  it('mergeAndUnloadPrefix on an unknown or non-prefix name → UNKNOWN_ADAPTER listing the prefix adapters', () => {
    const lm = tinyLM();
    lm.addAdapter('decoder:p', { type: 'prefixTuning', numVirtualTokens: 2 });
    lm.addAdapter('decoder:a', { type: 'linear', inFeatures: D, dim: 4 });
    const e = thrown(() => mergeAndUnloadPrefix(lm, 'a'));
    expect(e.code).toBe('UNKNOWN_ADAPTER');
    expect(e.message).toContain('prefix adapters: p');
    expect(mergeAndUnloadPrefix(lm)).toEqual([]); // no projection: nothing to merge
    lm.dispose();
  });
});
