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
import { paddingMaskToAdditive } from '../../src/nn/attention.js';
import { ADAPTER_MASK_VALUE } from '../../src/nn/transformer.js';
import { createRng } from '../../src/rng.js';
import { seed } from '../fixtures/spec-models.js';
import {
  ConformerLayerAdapter,
  ConformerModel,
  attentionMaskFromLengths,
  makeSeq,
} from '../fixtures/conformer.js';
import { captureLogs, maxAbsDiff, meanAbsDiff, thrown } from '../helpers.js';

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

// ---------------------------------------------------------------------------------------------
// Insertion points of the transformer blocks: each `location` against the block run by hand.

const POINT_NAMES = ['input', 'attention', 'attentionOutput', 'mha', 'parallelFfn', 'ffnOutput', 'post'];
/** The points a tensor-to-tensor adapter can take. */
const TENSOR_POINTS = ['input', 'attentionOutput', 'mha', 'ffnOutput', 'post'] as const;
type TensorPoint = (typeof TENSOR_POINTS)[number];

/** An encoder block (d 16, 2 heads, FFN 32) in eval mode. */
function encoderBlock(): TransformerEncoderBlockAdapter {
  const block = new TransformerEncoderBlockAdapter({ dModel: 16, nHead: 2, dFF: 32, rng: createRng(21) });
  block.eval();
  return block;
}

/** Rows padded at the end: row 1 keeps 4 of 6 positions. */
function padMask(): Tensor {
  return tf.tensor(
    [
      [false, false, false, false, false, false],
      [false, false, false, false, true, true],
    ],
    [2, 6],
    'bool',
  );
}

/**
 * The block's forward computed by hand from its children (eval mode: dropout is the identity),
 * applying `at(point, t)` at each point.
 */
function blockByHand(
  block: TransformerEncoderBlockAdapter,
  x: Tensor,
  at: (point: TensorPoint, t: Tensor) => Tensor,
  attnMask?: Tensor,
): Tensor {
  const child = (n: string) => block.getChild(n)!;
  const x0 = at('input', x);
  const n1 = child('norm1').forward(x0) as Tensor;
  const a = child('self_attn').forward(n1, n1, n1, { attnMask }) as Tensor;
  const h = at('mha', tf.add(x0, at('attentionOutput', a)));
  const f = child('ffn').forward(child('norm2').forward(h)) as Tensor;
  return at('post', tf.add(h, at('ffnOutput', f)));
}

describe('insertion points of transformer blocks (config `location`)', () => {
  it('a transformer block offers input, attention, attentionOutput, mha, parallelFfn, ffnOutput and post', () => {
    const block = encoderBlock();
    expect(block.adapterPoints()).toEqual(POINT_NAMES);
    expect(block.insertionPoints().find((p) => p.name === 'attention')!.hooks).toEqual([]);
    expect(new ConformerLayerAdapter({ width: 16, selfAttentionModel: 'rel_pos' }).adapterPoints()).toEqual([
      'mha',
      'post',
    ]);
  });

  it.each(TENSOR_POINTS)(
    "a linear adapter at '%s' equals the block run by hand with the adapter applied there; disabled = base bit for bit",
    (point) => {
      const block = encoderBlock();
      const x = makeSeq(2, 6, 16);
      const base = block.forward(x, { keyPaddingMask: padMask() });
      block.addAdapter('a', lin(16, 4, { location: point }));
      const adapter = block.getAdapterModule('a')!;
      perturb(adapter, 31);
      expect(block.adapterLocation('a')).toBe(point);
      expect(block.adapterLocations('a')).toEqual([point]);
      const y = block.forward(x, { keyPaddingMask: padMask() });
      const mask = paddingMaskToAdditive(padMask(), ADAPTER_MASK_VALUE);
      const want = blockByHand(
        block,
        x,
        (p, t) => (p === point ? tf.add(t, adapter.forward(t) as Tensor) : t),
        mask,
      );
      expect(maxAbsDiff(y, want)).toBeLessThan(1e-6);
      expect(maxAbsDiff(y, base)).toBeGreaterThan(1e-3); // the adapter changed something
      block.setEnabledAdapters('a', false);
      expect(maxAbsDiff(block.forward(x, { keyPaddingMask: padMask() }), base)).toBe(0);
    },
  );

  it.each(['input', 'ffnOutput'] as const)(
    "a transformer attention adapter at '%s' gets {queries, keys, values} = the point's value and the padding mask",
    (point) => {
      const block = encoderBlock();
      const x = makeSeq(2, 6, 16);
      const base = block.forward(x, { keyPaddingMask: padMask() });
      block.addAdapter('att', transformerAtt(16, 2, { location: point }));
      const att = block.getAdapterModule('att')!;
      perturb(att, 41);
      const y = block.forward(x, { keyPaddingMask: padMask() });
      const mask = paddingMaskToAdditive(padMask(), ADAPTER_MASK_VALUE);
      const want = blockByHand(
        block,
        x,
        (p, t) =>
          p === point
            ? tf.add(t, att.forward({ queries: t, keys: t, values: t, attentionMask: mask }) as Tensor)
            : t,
        mask,
      );
      expect(maxAbsDiff(y, want)).toBeLessThan(1e-6);
      block.setEnabledAdapters('att', false);
      expect(maxAbsDiff(block.forward(x, { keyPaddingMask: padMask() }), base)).toBe(0);
    },
  );

  it("defaults keep today's placement: linear at post, attention at mha, parallel beside the FFN; an explicit parallelFfn equals the default", () => {
    const block = encoderBlock();
    block.addAdapter('lin', lin(16, 4));
    block.addAdapter('att', transformerAtt(16, 2));
    block.addAdapter('pa', { type: 'parallel', inFeatures: 16, dim: 4 });
    block.addAdapter('pa2', { type: 'parallel', inFeatures: 16, dim: 4, location: 'parallelFfn' });
    expect(['lin', 'att', 'pa', 'pa2'].map((n) => block.adapterLocation(n))).toEqual([
      'post',
      'mha',
      'parallelFfn',
      'parallelFfn',
    ]);
    expect(block.adapterLocations('pa2')).toEqual(['mha', 'post']);
    expect(block.getAdapterCfg('lin')!.location).toBeUndefined(); // defaults are not written out
    const [pa, pa2] = ['pa', 'pa2'].map((n) => block.getAdapterModule(n)!);
    perturb(pa!, 51);
    pa2!.loadStateDict(pa!.stateDict());
    block.setEnabledAdapters(null, false);
    const x = makeSeq(2, 6, 16);
    block.setEnabledAdapters('pa', true);
    const y1 = block.forward(x);
    block.setEnabledAdapters('pa', false);
    block.setEnabledAdapters('pa2', true);
    expect(maxAbsDiff(block.forward(x), y1)).toBe(0);
  });

  it('two adapters at different points: each runs at its own point, in one forward', () => {
    const block = encoderBlock();
    block.addAdapter('first', lin(16, 4, { location: 'attentionOutput' }));
    block.addAdapter('second', lin(16, 4, { location: 'ffnOutput' }));
    const [a, b] = ['first', 'second'].map((n) => block.getAdapterModule(n)!);
    perturb(a!, 61);
    perturb(b!, 62);
    const x = makeSeq(2, 6, 16);
    const want = blockByHand(block, x, (p, t) => {
      if (p === 'attentionOutput') return tf.add(t, a!.forward(t) as Tensor);
      if (p === 'ffnOutput') return tf.add(t, b!.forward(t) as Tensor);
      return t;
    });
    expect(maxAbsDiff(block.forward(x), want)).toBeLessThan(1e-6);
    // No tensor is left behind by a forward through the new points.
    block.forward(x).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) block.forward(x).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each(['input', 'attentionOutput', 'ffnOutput'] as const)(
    "training through a multiplicative adapter at '%s': every adapter parameter gets a gradient",
    (point) => {
      const block = encoderBlock();
      block.addAdapter('g', lin(16, 4, { location: point, adapterStrategy: { type: 'multiplicative' } }));
      const adapter = block.getAdapterModule('g')!;
      perturb(adapter, 81);
      block.freeze();
      block.unfreezeEnabledAdapters();
      const vars = adapter.parameters();
      expect(block.parameters().filter((p) => p.trainable)).toEqual(vars);
      const x = makeSeq(2, 6, 16);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(block.forward(x))) as tf.Scalar, vars);
      for (const v of vars) expect(tf.max(tf.abs(grads[v.name]!)).dataSync()[0]).toBeGreaterThan(0);
      tf.dispose([value, ...Object.values(grads)]);
    },
  );

  it('per-sample selection at a new point: each row runs its own adapter at ffnOutput', () => {
    const block = encoderBlock();
    block.addAdapter('a', lin(16, 4, { location: 'ffnOutput' }));
    block.addAdapter('b', lin(16, 4, { location: 'ffnOutput' }));
    perturb(block.getAdapterModule('a')!, 71);
    perturb(block.getAdapterModule('b')!, 72);
    const x = makeSeq(3, 6, 16);
    const rows = (t: Tensor, i: number) => tf.slice(t, [i, 0, 0], [1, -1, -1]);
    const alone = (name: string | null, i: number) => {
      block.setEnabledAdapters(null, false);
      if (name) block.setEnabledAdapters(name, true);
      return rows(block.forward(x), i);
    };
    const want = tf.concat([alone('a', 0), alone(null, 1), alone('b', 2)], 0);
    const run = block.runAdapterPoint.bind(block);
    block.runAdapterPoint = (loc, t, ctx) =>
      block.isAdapterAvailable()
        ? (block.forwardEnabledAdapters({ x: t, loc, ...ctx }, { adapterNames: ['a', '__base__', 'b'] })
            .x as Tensor)
        : run(loc, t, ctx);
    block.setEnabledAdapters(null, true);
    expect(maxAbsDiff(block.forward(x), want)).toBeLessThan(1e-6);
  });

  it("a location the host does not offer → INVALID_CONFIG naming it and listing the host's points; nothing added", () => {
    const block = encoderBlock();
    const err = thrown(() => block.addAdapter('a', lin(16, 4, { location: 'afterFfn' })));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('afterFfn');
    for (const p of POINT_NAMES) expect(err.message).toContain(p);
    expect(block.heldAdapterNames()).toEqual([]);
    // a conformer host offers only mha and post
    const layer = new ConformerLayerAdapter({ width: 16, selfAttentionModel: 'rel_pos' });
    const err2 = thrown(() => layer.addAdapter('a', lin(16, 4, { location: 'ffnOutput' })));
    expect(err2.code).toBe('INVALID_CONFIG');
    expect(err2.message).toContain('ffnOutput');
    expect(err2.message).toContain('is not one of: mha, post');
    // not a name at all
    const err3 = thrown(() => block.addAdapter('a', lin(16, 4, { location: 3 })));
    expect(err3.code).toBe('INVALID_CONFIG');
    expect(err3.message).toContain('location');
  });

  it.each([
    ['linear', 'parallelFfn', () => lin(16, 4, { location: 'parallelFfn' })],
    ['linear', 'attention', () => lin(16, 4, { location: 'attention' })],
    [
      'parallel',
      'post',
      () => ({ type: 'parallel', inFeatures: 16, dim: 4, location: 'post' }) as AdapterConfig,
    ],
  ])(
    'a %s adapter at %s → UNSUPPORTED_TARGET naming the location and the points it can run at',
    (type, loc, cfg) => {
      const block = encoderBlock();
      const err = thrown(() => block.addAdapter('a', cfg()));
      expect(err.code).toBe('UNSUPPORTED_TARGET');
      expect(err.message).toContain(`'${type}'`);
      expect(err.message).toContain(`'${loc}'`);
      expect(err.message).toContain(
        type === 'parallel' ? 'it can run at: parallelFfn' : 'it can run at: input',
      );
      expect(block.heldAdapterNames()).toEqual([]);
    },
  );
});
