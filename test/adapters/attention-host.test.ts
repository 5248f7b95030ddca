/**
 * SPEC §3.9 Layered and attention hosts (B-157 … B-166): fan-out hosts (§2.7 "Layered hosts"),
 * blocks with the `'mha'` and `'post'` insertion points (§2.7 "Attention hosts"), on the layered
 * `AdapterHost` stack of `fixtures/layered.ts` and the conformer-style fixtures of
 * `fixtures/conformer.ts`.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import {
  MultiHeadAttentionAdapter,
  RelPositionalEncodingAdapter,
  TransformerEncoderBlockAdapter,
  type AdapterConfig,
  type AdapterModule,
} from '../../src/adapters/index.js';
import type { Module } from '../../src/nn/module.js';
import { normal } from '../../src/nn/init.js';
import { createRng } from '../../src/rng.js';
import { seed } from '../fixtures/spec-models.js';
import {
  ConformerLayerAdapter,
  ConformerModel,
  attentionMaskFromLengths,
  makeSeq,
} from '../fixtures/conformer.js';
import { captureLogs, meanAbsDiff, thrown } from '../helpers.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** A conformer attention config (`relPositionMultiHeadAttention` unless `type` says otherwise). */
function conformerAtt(nFeat: number, nHead: number, extra: Record<string, unknown> = {}): AdapterConfig {
  return { type: 'relPositionMultiHeadAttention', nHead, nFeat, dropoutRate: 0, ...extra } as AdapterConfig;
}

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

/** Overwrites every parameter of `m` with small random values, so its output is no longer zero. */
function perturb(m: Module, s = 7): void {
  const rng = createRng(s);
  for (const p of m.parameters()) {
    tf.tidy(() => p.assign(tf.mul(normal([...p.shape], 1, rng), 0.1)));
  }
}

/** The relative positional embedding `[1, 2T−1, width]` for `x [B, T, width]`. */
function relPosEmb(x: Tensor): Tensor {
  const [, posEmb] = new RelPositionalEncodingAdapter({
    dModel: x.shape[2]!,
    xscale: null,
    maxLen: 16,
  }).forward(x);
  return posEmb;
}

beforeEach(() => seed());

// ---------------------------------------------------------------------------------------------

describe('B-162 insertion points', () => {
  it("B-162 conformer host: a linear adapter runs only at 'post', an attention adapter only at 'mha'; adapterLocations; no warning", () => {
    const layer = new ConformerLayerAdapter({ width: 16 });
    layer.eval();
    const x = makeSeq(2, 6, 16);
    const posEmb = relPosEmb(x);
    const attMask = attentionMaskFromLengths([6, 4], 6);
    const { warnings } = captureLogs(() => {
      layer.addAdapter('lin', lin(16, 4));
      layer.addAdapter('att', conformerAtt(16, 2));
      expect(layer.adapterLocations('lin')).toEqual(['post']);
      expect(layer.adapterLocations('att')).toEqual(['mha']);
      expect(layer.adapterLocations('nope')).toEqual([]);
      perturb(layer.getAdapterModule('lin')!, 1);
      perturb(layer.getAdapterModule('att')!, 2);
      const linF = vi.spyOn(layer.getAdapterModule('lin') as AdapterModule, 'forward');
      const attF = vi.spyOn(layer.getAdapterModule('att') as AdapterModule, 'forward');

      const mha = layer.forwardEnabledAdapters({ x, loc: 'mha', attMask, posEmb });
      expect([linF.mock.calls.length, attF.mock.calls.length]).toEqual([0, 1]);
      expect(mha.loc).toBe('mha');
      expect(meanAbsDiff(mha.x, x)).toBeGreaterThan(1e-4);
      // rel_pos host: {query: x, key: x, value: x, mask: attMask, posEmb}.
      const arg = attF.mock.calls[0]![0] as unknown as Record<string, unknown>;
      expect(arg.query).toBe(x);
      expect(arg.key).toBe(x);
      expect(arg.value).toBe(x);
      expect(arg.mask).toBe(attMask);
      expect(arg.posEmb).toBe(posEmb);

      const post = layer.forwardEnabledAdapters({ x, loc: 'post', attMask, posEmb });
      expect([linF.mock.calls.length, attF.mock.calls.length]).toEqual([1, 1]);
      expect(linF.mock.calls[0]![0]).toBe(x);
      expect(meanAbsDiff(post.x, x)).toBeGreaterThan(1e-4);

      // A whole forward of the block: each adapter once, at its own point.
      layer.forward(x, { attMask, posEmb });
      expect([linF.mock.calls.length, attF.mock.calls.length]).toEqual([2, 2]);
    });
    expect(warnings).toEqual([]);
  });

  it('B-162 an adapter at the other insertion point passes x through unchanged, silently', () => {
    const x = makeSeq(2, 6, 16);
    const posEmb = relPosEmb(x);
    const { warnings } = captureLogs(() => {
      const onlyLin = new ConformerLayerAdapter({ width: 16 });
      onlyLin.addAdapter('lin', lin(16, 4));
      perturb(onlyLin.getAdapterModule('lin')!, 1);
      expect(onlyLin.forwardEnabledAdapters({ x, loc: 'mha', posEmb }).x).toBe(x);
      const onlyAtt = new ConformerLayerAdapter({ width: 16 });
      onlyAtt.addAdapter('att', conformerAtt(16, 2));
      perturb(onlyAtt.getAdapterModule('att')!, 2);
      expect(onlyAtt.forwardEnabledAdapters({ x, loc: 'post', posEmb }).x).toBe(x);
      // Repeated forwards stay silent too (NeMo warns once per module).
      for (let i = 0; i < 2; i++) {
        onlyLin.forward(x, { posEmb });
        onlyAtt.forward(x, { posEmb });
      }
    });
    expect(warnings).toEqual([]);
  });

  it('B-162 abs_pos host: a conformer attention adapter gets {query, key, value, mask} without posEmb', () => {
    const layer = new ConformerLayerAdapter({ width: 16, selfAttentionModel: 'abs_pos' });
    layer.addAdapter('att', conformerAtt(16, 2, { type: 'multiHeadAttention' }));
    expect(layer.getAdapterModule('att')).toBeInstanceOf(MultiHeadAttentionAdapter);
    expect(layer.adapterLocations('att')).toEqual(['mha']);
    const attF = vi.spyOn(layer.getAdapterModule('att') as AdapterModule, 'forward');
    const x = makeSeq(2, 6, 16);
    const attMask = attentionMaskFromLengths([6, 4], 6);
    layer.forwardEnabledAdapters({ x, loc: 'mha', attMask, posEmb: relPosEmb(x) });
    expect(attF).toHaveBeenCalledTimes(1);
    const arg = attF.mock.calls[0]![0] as unknown as Record<string, unknown>;
    expect(Object.keys(arg).sort()).toEqual(['key', 'mask', 'query', 'value']);
    expect(arg.mask).toBe(attMask);
  });

  it("B-162 transformer host: linear at 'post', transformer attention at 'mha' with {queries, keys, values, attentionMask}; no warning", () => {
    const block = new TransformerEncoderBlockAdapter({ dModel: 16, nHead: 2, dFF: 32 });
    block.eval();
    const x = makeSeq(2, 6, 16);
    const pad = tf.tensor(
      [
        [false, false, false, false, false, false],
        [false, false, false, false, true, true],
      ],
      [2, 6],
      'bool',
    );
    const { warnings } = captureLogs(() => {
      block.addAdapter('lin', lin(16, 4));
      block.addAdapter('att', transformerAtt(16, 2));
      expect(block.adapterLocations('lin')).toEqual(['post']);
      expect(block.adapterLocations('att')).toEqual(['mha']);
      const linF = vi.spyOn(block.getAdapterModule('lin') as AdapterModule, 'forward');
      const att = block.getAdapterModule('att') as AdapterModule;
      const attForward = att.forward.bind(att);
      // The mask lives in the block's forward scope: read it while the adapter runs.
      let maskValues: number[] = [];
      const attF = vi.spyOn(att, 'forward').mockImplementation((input: Record<string, Tensor>) => {
        if (input.attentionMask) maskValues = Array.from(input.attentionMask.dataSync());
        return attForward(input);
      });
      block.forward(x, { keyPaddingMask: pad });
      expect([linF.mock.calls.length, attF.mock.calls.length]).toEqual([1, 1]);
      const arg = attF.mock.calls[0]![0] as unknown as Record<string, Tensor>;
      expect(Object.keys(arg).sort()).toEqual(['attentionMask', 'keys', 'queries', 'values']);
      expect(arg.queries).toBe(arg.keys);
      expect(arg.queries).toBe(arg.values);
      // The mask handed over is additive: 0 where attention is allowed, −10000 at padded keys.
      const mask = arg.attentionMask!;
      expect(mask.dtype).toBe('float32');
      expect([...new Set(maskValues)].sort((a, b) => a - b)).toEqual([-10000, 0]);
      block.forwardEnabledAdapters({ x, loc: 'mha' });
      block.forwardEnabledAdapters({ x, loc: 'post' });
      expect([linF.mock.calls.length, attF.mock.calls.length]).toEqual([2, 2]);
    });
    expect(warnings).toEqual([]);
  });
});

describe('B-163 selfAttentionModel rules', () => {
  it.each(['multiHeadAttention', 'relPositionMultiHeadAttention'])(
    'B-163 %s on a host without selfAttentionModel → INVALID_CONFIG naming the host; nothing added',
    (type) => {
      const layer = new ConformerLayerAdapter({ width: 16, selfAttentionModel: null });
      expect('selfAttentionModel' in layer).toBe(false);
      const err = thrown(() => layer.addAdapter('att', conformerAtt(16, 2, { type })));
      expect(err.code).toBe('INVALID_CONFIG');
      expect(err.message).toContain('ConformerLayerAdapter');
      expect(err.message).toContain('selfAttentionModel');
      expect(layer.isAdapterAvailable()).toBe(false);
      expect(layer.adapterCfg['att']).toBeUndefined();
      // Linear adapters do not need it.
      layer.addAdapter('lin', lin(16, 4));
      expect(layer.getEnabledAdapters()).toEqual(['lin']);
    },
  );

  it("B-163 selfAttentionModel 'transf_abs' → INVALID_CONFIG listing rel_pos and abs_pos", () => {
    for (const type of ['multiHeadAttention', 'relPositionMultiHeadAttention']) {
      const layer = new ConformerLayerAdapter({ width: 16, selfAttentionModel: 'transf_abs' });
      const err = thrown(() => layer.addAdapter('att', conformerAtt(16, 2, { type })));
      expect(err.code).toBe('INVALID_CONFIG');
      expect(err.message).toContain('transf_abs');
      expect(err.message).toContain('rel_pos');
      expect(err.message).toContain('abs_pos');
      expect(layer.isAdapterAvailable()).toBe(false);
    }
  });

  it('B-163 through a model and its layered encoder: INVALID_CONFIG naming the encoder layer; the add leaves no trace', () => {
    const m = new ConformerModel({ width: 16, layers: 2, selfAttentionModel: null });
    m.addAdapter('adapter_0', lin(16, 4));
    const cfgBefore = structuredClone(m.cfg.adapters);
    const count = m.numParameters();
    const err = thrown(() => m.addAdapter('encoder:att', conformerAtt(16, 2)));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('encoder');
    expect(err.message).toContain('selfAttentionModel');
    expect(m.cfg.adapters).toEqual(cfgBefore);
    expect(m.numParameters()).toBe(count);
    expect(m.encoder.hostLayers.map((l) => l.heldAdapterNames())).toEqual([['adapter_0'], ['adapter_0']]);
  });
});
