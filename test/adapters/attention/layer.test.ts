import { beforeEach, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import '../../../src/adapters/builtins.js';
import {
  MultiHeadAttentionAdapter,
  RelPositionMultiHeadAttentionAdapter,
  TransformerMultiHeadAttentionAdapter,
  relShift,
} from '../../../src/adapters/attention/index.js';
import { RelPositionalEncodingAdapter } from '../../../src/adapters/positional/index.js';
import { withAdapters } from '../../../src/adapters/host.js';
import {
  buildAdapter,
  defaultStrategyOf,
  getAdapterTypeSchema,
  parseAdapterConfig,
} from '../../../src/adapters/registry.js';
import { MhaResidualAddStrategy, ReturnResultStrategy } from '../../../src/adapters/strategies/index.js';
import { normal } from '../../../src/nn/init.js';
import { Module } from '../../../src/nn/module.js';
import { createRng, setRng } from '../../../src/rng.js';
import { expectClose, maxAbsDiff, thrown } from '../../helpers.js';

class AttnHost extends withAdapters(Module) {
  static override readonly typeName: string = 'AttnTestHost';
  override forward(input: Record<string, unknown>): unknown {
    return this.forwardEnabledAdapters(input);
  }
}

const sum = (t: Tensor) => tf.tidy(() => tf.sum(t).dataSync()[0]!);
const absSum = (t: Tensor) => tf.tidy(() => tf.sum(tf.abs(t)).dataSync()[0]!);

/** Boolean `[B, T, T]`, true = masked: `mask[b,i,j] = !(i < len[b] && j < len[b])` (as NeMo's ConformerEncoder). */
function paddingMask(lengths: number[], t: number): Tensor {
  const data = new Uint8Array(lengths.length * t * t);
  lengths.forEach((len, b) => {
    for (let i = 0; i < t; i++)
      for (let j = 0; j < t; j++) data[(b * t + i) * t + j] = i < len && j < len ? 0 : 1;
  });
  return tf.tensor3d(data, [lengths.length, t, t], 'bool');
}

/** Additive `[B, 1, T, T]`: 0 = attend, −10000 = masked. */
function additiveMask(lengths: number[], t: number): Tensor {
  return tf.tidy(() => tf.mul(tf.expandDims(tf.cast(paddingMask(lengths, t), 'float32'), 1), -10000));
}

/** Random lengths for batch 2 with one full row. */
function randomLengths(t: number, seed: number): number[] {
  const rng = createRng(seed);
  return [t, 1 + Math.floor(rng.next() * (t - 1))];
}

/** Gives the zero-initialised output projection (and rel-pos biases) random values. */
function activate(a: MultiHeadAttentionAdapter): void {
  const r = createRng(99);
  a.linearOut.weight.assign(normal(a.linearOut.weight.shape, 0.5, r));
  a.linearOut.bias!.assign(normal(a.linearOut.bias!.shape, 0.5, r));
  if (a instanceof RelPositionMultiHeadAttentionAdapter) {
    a.posBiasU.assign(normal(a.posBiasU.shape, 0.5, r));
    a.posBiasV.assign(normal(a.posBiasV.shape, 0.5, r));
  }
}

const GRID: Array<[number, number | null]> = [1, 2, 10].flatMap(
  (h) =>
    [
      [h, null],
      [h, -1],
    ] as Array<[number, number | null]>,
);

beforeEach(() => setRng(createRng(1234)));

describe('attention adapters', () => {
  it('B-139 schemas equal the constructor options plus type and enabled', () => {
    const conformer = [
      'type',
      'enabled',
      'nHead',
      'nFeat',
      'dropoutRate',
      'projDim',
      'useFusedAttention',
      'adapterStrategy',
    ];
    expect(Object.keys(getAdapterTypeSchema('multiHeadAttention').fields).sort()).toEqual(
      [...conformer].sort(),
    );
    expect(Object.keys(getAdapterTypeSchema('relPositionMultiHeadAttention').fields).sort()).toEqual(
      [...conformer].sort(),
    );
    expect(Object.keys(getAdapterTypeSchema('transformerMultiHeadAttention').fields).sort()).toEqual(
      [
        'type',
        'enabled',
        'hiddenSize',
        'numAttentionHeads',
        'attnScoreDropout',
        'attnLayerDropout',
        'projDim',
        'adapterStrategy',
      ].sort(),
    );
    const pos = ['type', 'enabled', 'dModel', 'maxLen', 'xscale', 'adapterStrategy'].sort();
    expect(Object.keys(getAdapterTypeSchema('positionalEncoding').fields).sort()).toEqual(pos);
    expect(Object.keys(getAdapterTypeSchema('relPositionalEncoding').fields).sort()).toEqual(pos);
    const mha = getAdapterTypeSchema('multiHeadAttention').fields;
    expect(mha.projDim).toMatchObject({ required: false, default: null, nullable: true });
    expect(mha.useFusedAttention).toMatchObject({ required: false, default: false });
    expect(mha.dropoutRate).toMatchObject({ required: false, default: 0 });
    expect(mha.nHead!.required).toBe(true);
    expect(getAdapterTypeSchema('transformerMultiHeadAttention').fields.attnScoreDropout).toMatchObject({
      default: 0,
    });
    // The normalised config writes every default out.
    expect(parseAdapterConfig({ type: 'multiHeadAttention', nHead: 2, nFeat: 8 }, 'test')).toEqual({
      type: 'multiHeadAttention',
      enabled: true,
      nHead: 2,
      nFeat: 8,
      dropoutRate: 0,
      projDim: null,
      useFusedAttention: false,
      adapterStrategy: { type: 'mhaResidualAdd', stochasticDepth: 0, l2Lambda: 0 },
    });
  });

  it.each(GRID)(
    'B-140 multiHeadAttention nHead %s projDim %s: zero linear_out, zero output, shape of x',
    (nHead, projDim) => {
      const x = normal([2, 32, 50], 1, createRng(0));
      const mask = paddingMask(randomLengths(32, nHead), 32);
      const a = new MultiHeadAttentionAdapter({ nHead, nFeat: 50, dropoutRate: 0, projDim });
      expect(sum(a.linearOut.weight)).toBe(0);
      expect(sum(a.linearOut.bias!)).toBe(0);
      const out = a.forward({ query: x, key: x, value: x, mask });
      expect(out.shape).toEqual(x.shape);
      expect(Math.abs(sum(out))).toBeLessThanOrEqual(1e-8);
      // Through the default mhaResidualAdd strategy the host's value passes unchanged.
      const host = new AttnHost();
      host.addAdapter('mha', { type: 'multiHeadAttention', nHead, nFeat: 50, projDim });
      expectClose(host.forward({ query: x, key: x, value: x, mask }) as Tensor, x, 0);
    },
  );

  it.each(GRID)(
    'B-141 relPositionMultiHeadAttention nHead %s projDim %s: zero output with relPositionalEncoding posEmb',
    (nHead, projDim) => {
      const x = normal([2, 32, 50], 1, createRng(0));
      const mask = paddingMask(randomLengths(32, nHead + 7), 32);
      const [xs, posEmb] = new RelPositionalEncodingAdapter({ dModel: 50 }).forward(x);
      expect(posEmb.shape).toEqual([1, 63, 50]);
      const a = new RelPositionMultiHeadAttentionAdapter({ nHead, nFeat: 50, dropoutRate: 0, projDim });
      expect(sum(a.linearOut.weight)).toBe(0);
      expect(sum(a.linearOut.bias!)).toBe(0);
      const out = a.forward({ query: xs, key: xs, value: xs, mask, posEmb });
      expect(out.shape).toEqual(x.shape);
      expect(Math.abs(sum(out))).toBeLessThanOrEqual(1e-8);
    },
  );

  it.each([
    [2, null],
    [5, null],
    [10, -1],
    [2, 6],
  ] as Array<[number, number | null]>)(
    'B-142 relPositionMultiHeadAttention nHead %s projDim %s: fused and reference paths agree within 1e-5',
    (nHead, projDim) => {
      const x = normal([2, 12, 50], 1, createRng(3));
      const mask = paddingMask([12, 5], 12);
      const [, posEmb] = new RelPositionalEncodingAdapter({ dModel: 50, maxLen: 64 }).forward(x);
      const a = new RelPositionMultiHeadAttentionAdapter({ nHead, nFeat: 50, projDim });
      activate(a);
      a.eval();
      for (const m of [mask, null]) {
        const input = { query: x, key: x, value: x, mask: m, posEmb };
        const ref = a.forward(input);
        a.useFusedAttention = true;
        const fused = a.forward(input);
        a.useFusedAttention = false;
        expect(absSum(ref)).toBeGreaterThan(1);
        expect(maxAbsDiff(ref, fused)).toBeLessThanOrEqual(1e-5);
      }
      // Built with the flag from a config, with the same weights, gives the same result.
      const b = buildAdapter({
        type: 'relPositionMultiHeadAttention',
        nHead,
        nFeat: 50,
        projDim,
        useFusedAttention: true,
      }) as RelPositionMultiHeadAttentionAdapter;
      expect(b.useFusedAttention).toBe(true);
      b.loadStateDict(a.stateDict());
      b.eval();
      expect(
        maxAbsDiff(
          b.forward({ query: x, key: x, value: x, mask, posEmb }),
          a.forward({ query: x, key: x, value: x, mask, posEmb }),
        ),
      ).toBeLessThanOrEqual(1e-5);
    },
  );

  it.each([
    [2, null],
    [5, null],
    [10, 0],
    [5, 15],
  ] as Array<[number, number | null]>)(
    'B-143 multiHeadAttention nHead %s projDim %s: fused and reference paths agree within 1e-5',
    (nHead, projDim) => {
      const x = normal([2, 12, 50], 1, createRng(4));
      const a = new MultiHeadAttentionAdapter({ nHead, nFeat: 50, projDim });
      activate(a);
      a.eval();
      for (const m of [paddingMask([12, 7], 12), null]) {
        const input = { query: x, key: x, value: x, mask: m };
        const ref = a.forward(input);
        a.useFusedAttention = true;
        const fused = a.forward(input);
        a.useFusedAttention = false;
        expect(absSum(ref)).toBeGreaterThan(1);
        expect(maxAbsDiff(ref, fused)).toBeLessThanOrEqual(1e-5);
      }
    },
  );

  it.each(GRID)(
    'B-146 transformerMultiHeadAttention nHead %s projDim %s: zero out_projection, zero output, shape of x',
    (nHead, projDim) => {
      const x = normal([2, 32, 50], 1, createRng(0));
      const attentionMask = additiveMask(randomLengths(32, nHead + 3), 32);
      expect(attentionMask.shape).toEqual([2, 1, 32, 32]);
      const a = new TransformerMultiHeadAttentionAdapter({
        hiddenSize: 50,
        numAttentionHeads: nHead,
        projDim,
      });
      expect(sum(a.outProjection.weight)).toBe(0);
      expect(sum(a.outProjection.bias!)).toBe(0);
      const out = a.forward({ queries: x, keys: x, values: x, attentionMask });
      expect(out.shape).toEqual(x.shape);
      expect(Math.abs(sum(out))).toBeLessThanOrEqual(1e-8);
      expect([...a.stateDict().keys()].sort()).toEqual(
        ['query_net', 'key_net', 'value_net', 'out_projection', 'pre_norm']
          .flatMap((n) => [`${n}.weight`, `${n}.bias`])
          .sort(),
      );
    },
  );

  it('B-147 attention adapters default to mhaResidualAdd, positional encodings to returnResult', () => {
    const cases: Array<
      [Record<string, unknown>, typeof MhaResidualAddStrategy | typeof ReturnResultStrategy]
    > = [
      [{ type: 'multiHeadAttention', nHead: 2, nFeat: 8 }, MhaResidualAddStrategy],
      [{ type: 'relPositionMultiHeadAttention', nHead: 2, nFeat: 8 }, MhaResidualAddStrategy],
      [
        { type: 'transformerMultiHeadAttention', hiddenSize: 8, numAttentionHeads: 2 },
        MhaResidualAddStrategy,
      ],
      [{ type: 'positionalEncoding', dModel: 8 }, ReturnResultStrategy],
      [{ type: 'relPositionalEncoding', dModel: 8 }, ReturnResultStrategy],
    ];
    for (const [cfg, cls] of cases) {
      const a = buildAdapter(cfg as never) as MultiHeadAttentionAdapter;
      expect(a.adapterStrategy).toBeInstanceOf(cls);
      const expected = cls === MhaResidualAddStrategy ? 'mhaResidualAdd' : 'returnResult';
      expect(defaultStrategyOf(cfg.type as string).type).toBe(expected);
      expect((a.constructor as typeof MultiHeadAttentionAdapter).defaultStrategy.type).toBe(expected);
      expect(a.defaultStrategyConfig().type).toBe(expected);
    }
    // Direct construction installs the default too.
    expect(new MultiHeadAttentionAdapter({ nHead: 2, nFeat: 8 }).adapterStrategy).toBeInstanceOf(
      MhaResidualAddStrategy,
    );
  });

  it('B-148 projDim 0 gives P = nHead (dk 1); projDim −1 gives linear_q.weight [nHead, nFeat]', () => {
    const zero = new MultiHeadAttentionAdapter({ nHead: 5, nFeat: 50, projDim: 0 });
    expect(zero.projDim).toBe(5);
    expect(zero.dk).toBe(1);
    expect(zero.linearQ.weight.shape).toEqual([5, 50]);
    const minus = new MultiHeadAttentionAdapter({ nHead: 5, nFeat: 50, projDim: -1 });
    expect(minus.linearQ.weight.shape).toEqual([5, 50]);
    expect(minus.linearOut.weight.shape).toEqual([50, 5]);
    const rel = new RelPositionMultiHeadAttentionAdapter({ nHead: 5, nFeat: 50, projDim: -1 });
    expect(rel.linearPos.weight.shape).toEqual([5, 50]);
    expect(rel.posBiasU.shape).toEqual([5, 1]);
    const t = new TransformerMultiHeadAttentionAdapter({ hiddenSize: 50, numAttentionHeads: 5, projDim: 0 });
    expect(t.queryNet.weight.shape).toEqual([5, 50]);
    expect(t.dk).toBe(1);
    const p = new MultiHeadAttentionAdapter({ nHead: 5, nFeat: 50, projDim: 20 });
    expect([p.projDim, p.dk]).toEqual([20, 4]);
    const sd = new Map([...p.stateDict()].map(([k, v]) => [k, v.shape]));
    expect(sd.get('linear_q.weight')).toEqual([20, 50]);
    expect(sd.get('linear_q.bias')).toEqual([20]);
    expect(sd.get('linear_out.weight')).toEqual([50, 20]);
    expect(sd.get('linear_out.bias')).toEqual([50]);
  });

  it('B-149 projDim not divisible by nHead, and nFeat not divisible by nHead → INVALID_CONFIG naming both numbers', () => {
    const e1 = thrown(() => new MultiHeadAttentionAdapter({ nHead: 3, nFeat: 48, projDim: 4 }));
    expect(e1.code).toBe('INVALID_CONFIG');
    expect(e1.message).toContain('projDim (4) is not divisible by nHead (3)');
    const e1b = thrown(() =>
      buildAdapter({ type: 'relPositionMultiHeadAttention', nHead: 3, nFeat: 48, projDim: 4 }),
    );
    expect(e1b.code).toBe('INVALID_CONFIG');
    expect(e1b.message).toContain('projDim (4) is not divisible by nHead (3)');
    const e2 = thrown(() => buildAdapter({ type: 'multiHeadAttention', nFeat: 50, nHead: 3 }));
    expect(e2.code).toBe('INVALID_CONFIG');
    expect(e2.message).toContain('nFeat (50) is not divisible by nHead (3)');
    // Both rules are checked whatever projDim is.
    const e3 = thrown(() => new MultiHeadAttentionAdapter({ nHead: 3, nFeat: 50, projDim: 4 }));
    expect(e3.message).toContain('nFeat (50)');
    expect(e3.message).toContain('projDim (4) is not divisible by nHead (3)');
    const e4 = thrown(
      () => new TransformerMultiHeadAttentionAdapter({ hiddenSize: 50, numAttentionHeads: 3 }),
    );
    expect(e4.code).toBe('INVALID_CONFIG');
    expect(e4.message).toContain('hiddenSize (50) is not divisible by numAttentionHeads (3)');
    // A failed add leaves nothing on the host.
    const host = new AttnHost();
    expect(
      thrown(() => host.addAdapter('a', { type: 'multiHeadAttention', nHead: 3, nFeat: 48, projDim: 4 }))
        .code,
    ).toBe('INVALID_CONFIG');
    expect(host.isAdapterAvailable()).toBe(false);
  });

  it('B-150 relPositionMultiHeadAttention starts with pos_bias_u and pos_bias_v exactly zero and free of NaN', () => {
    for (const projDim of [null, -1, 10]) {
      const a = new RelPositionMultiHeadAttentionAdapter({ nHead: 2, nFeat: 50, projDim });
      for (const key of ['pos_bias_u', 'pos_bias_v']) {
        const t = a.stateDict().get(key)!;
        expect(t.shape).toEqual([2, a.dk]);
        const v = Array.from(t.dataSync());
        expect(v.every((e) => e === 0 && !Number.isNaN(e))).toBe(true);
      }
      expect(a.stateDict().has('linear_pos.bias')).toBe(false);
    }
  });
});

describe('attention adapters: numerics and inputs', () => {
  it('matches an explicit per-head computation (masked scores −10000, masked probabilities 0)', () => {
    const a = new MultiHeadAttentionAdapter({ nHead: 2, nFeat: 4 });
    activate(a);
    a.eval();
    const x = normal([1, 3, 4], 1, createRng(5));
    const mask = tf.tensor3d(
      [
        [
          [0, 0, 1],
          [0, 0, 1],
          [1, 1, 1],
        ],
      ],
      [1, 3, 3],
      'bool',
    );
    const out = a.forward({ query: x, key: x, value: x, mask }).arraySync() as number[][][];
    // Reference in plain JS.
    const X = x.arraySync() as number[][][];
    const ln = (r: number[]) => {
      const m = r.reduce((s, v) => s + v, 0) / r.length;
      const v = r.reduce((s, e) => s + (e - m) ** 2, 0) / r.length;
      return r.map((e) => (e - m) / Math.sqrt(v + 1e-5));
    };
    const lin = (W: number[][], b: number[] | null, r: number[]) =>
      W.map((row, o) => row.reduce((s, w, i) => s + w * r[i]!, b ? b[o]! : 0));
    const get = (l: import('../../../src/nn/layers.js').Linear) =>
      [l.weight.arraySync() as number[][], l.bias ? (l.bias.arraySync() as number[]) : null] as const;
    const [Wq, bq] = get(a.linearQ);
    const [Wk, bk] = get(a.linearK);
    const [Wv, bv] = get(a.linearV);
    const [Wo, bo] = get(a.linearOut);
    const xs = X[0]!.map(ln);
    const Q = xs.map((r) => lin(Wq, bq, r));
    const K = xs.map((r) => lin(Wk, bk, r));
    const V = xs.map((r) => lin(Wv, bv, r));
    const M = mask.arraySync() as number[][][];
    for (let i = 0; i < 3; i++) {
      const ctx: number[] = [];
      for (let h = 0; h < 2; h++) {
        const s = [0, 1, 2].map((j) =>
          M[0]![i]![j]
            ? -10000
            : (Q[i]![2 * h]! * K[j]![2 * h]! + Q[i]![2 * h + 1]! * K[j]![2 * h + 1]!) / Math.SQRT2,
        );
        const mx = Math.max(...s);
        const e = s.map((v) => Math.exp(v - mx));
        const z = e.reduce((p, c) => p + c, 0);
        const p = e.map((v, j) => (M[0]![i]![j] ? 0 : v / z));
        for (let d = 0; d < 2; d++) ctx.push(p.reduce((acc, pj, j) => acc + pj * V[j]![2 * h + d]!, 0));
      }
      const want = lin(Wo, bo, ctx);
      want.forEach((w, o) => expect(Math.abs(out[0]![i]![o]! - w)).toBeLessThan(1e-5));
    }
    // The fully masked row outputs linear_out.bias only.
    expect(Math.max(...out[0]![2]!.map((v, o) => Math.abs(v - bo![o]!)))).toBeLessThan(1e-6);
  });

  it('relShift pads, views, drops the first row and views back (NeMo rel_shift)', () => {
    // x[…, i, k] = 10·i + k for t1 = 3, p = 5.
    const x = tf.tensor4d(
      Array.from({ length: 15 }, (_, n) => 10 * Math.floor(n / 5) + (n % 5)),
      [1, 1, 3, 5],
    );
    const flat = [0, ...[0, 1, 2, 3, 4], 0, ...[10, 11, 12, 13, 14], 0, ...[20, 21, 22, 23, 24]];
    const want = flat.slice(3).slice(0, 15); // drop the first row of the [6, 3] view
    expect(Array.from(relShift(x).dataSync())).toEqual(want);
    expect(relShift(x).shape).toEqual([1, 1, 3, 5]);
  });

  it('gradients reach every parameter with a boolean mask (no comparison in the differentiated path), both paths', () => {
    const x = normal([2, 6, 8], 1, createRng(6));
    const mask = paddingMask([6, 3], 6);
    const [, posEmb] = new RelPositionalEncodingAdapter({ dModel: 8, maxLen: 8 }).forward(x);
    const a = new RelPositionMultiHeadAttentionAdapter({ nHead: 2, nFeat: 8 });
    activate(a);
    const grads = (fused: boolean) => {
      a.useFusedAttention = fused;
      const { value, grads: g } = tf.variableGrads(
        () => tf.sum(tf.square(a.forward({ query: x, key: x, value: x, mask, posEmb }))) as tf.Scalar,
      );
      value.dispose();
      return g;
    };
    const ref = grads(false);
    const fused = grads(true);
    expect(Object.keys(ref).length).toBe(a.parameters().length);
    for (const [name, g] of Object.entries(ref)) {
      expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
      expect(maxAbsDiff(g, fused[name]!)).toBeLessThan(1e-4);
    }
    // Training-mode dropout on the probabilities changes the output; eval does not.
    const d = new MultiHeadAttentionAdapter({ nHead: 2, nFeat: 8, dropoutRate: 0.5 });
    activate(d);
    const input = { query: x, key: x, value: x };
    d.eval();
    const e1 = d.forward(input);
    expectClose(d.forward(input), e1, 0);
    d.train();
    expect(maxAbsDiff(d.forward(input), e1)).toBeGreaterThan(0);
  });

  it('transformer adapter: Q and K scaled by dk^(1/4), additive mask added as is', () => {
    const a = new TransformerMultiHeadAttentionAdapter({ hiddenSize: 8, numAttentionHeads: 2 });
    const r = createRng(8);
    a.outProjection.weight.assign(normal([8, 8], 0.5, r));
    a.outProjection.bias!.assign(normal([8], 0.5, r));
    a.eval();
    const x = normal([2, 5, 8], 1, createRng(9));
    const full = a.forward({ queries: x, keys: x, values: x });
    const zeroMask = a.forward({ queries: x, keys: x, values: x, attentionMask: tf.zeros([2, 1, 5, 5]) });
    expectClose(full, zeroMask, 1e-6);
    // Masking key 4 for batch 0 with −10000 equals attending over keys 0–3 only.
    const m = tf.buffer([2, 1, 1, 5]);
    m.set(-10000, 0, 0, 0, 4);
    const masked = a.forward({ queries: x, keys: x, values: x, attentionMask: m.toTensor() });
    const x0 = tf.slice(x, [0, 0, 0], [1, 5, 8]);
    const k0 = tf.slice(x, [0, 0, 0], [1, 4, 8]);
    const short = a.forward({ queries: x0, keys: k0, values: k0 });
    expectClose(tf.slice(masked, [0, 0, 0], [1, 5, 8]), short, 1e-5);
    expectClose(tf.slice(masked, [1, 0, 0], [1, 5, 8]), tf.slice(full, [1, 0, 0], [1, 5, 8]), 1e-6);
    const e = thrown(() =>
      a.forward({ queries: x, keys: x, values: x, attentionMask: tf.zeros([2, 1, 5, 5], 'bool') }),
    );
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.message).toContain('additive');
  });

  it('rejects positional arguments, unknown keys, missing posEmb, a cache and mis-shaped tensors with INVALID_INPUT', () => {
    const x = normal([1, 4, 8], 1, createRng(1));
    const a = new MultiHeadAttentionAdapter({ nHead: 2, nFeat: 8 });
    const rel = new RelPositionMultiHeadAttentionAdapter({ nHead: 2, nFeat: 8 });
    const cases: Array<[() => unknown, string]> = [
      [() => (a.forward as (...args: unknown[]) => unknown)(x, x, x), 'named-argument object'],
      [() => a.forward({ query: x, key: x, value: x, pos_emb: x } as never), "'pos_emb'"],
      [() => a.forward({ query: x, key: x } as never), "'value' must be a tensor"],
      [() => a.forward({ query: x, key: x, value: x, cache: x }), 'cache'],
      [() => a.forward({ query: tf.zeros([1, 4, 6]), key: x, value: x }), '[B, T, 8]'],
      [
        () => a.forward({ query: x, key: x, value: x, mask: tf.zeros([1, 4, 3], 'bool') }),
        "'mask' must have shape",
      ],
      [() => rel.forward({ query: x, key: x, value: x }), "'posEmb' is required"],
      [
        () => rel.forward({ query: x, key: x, value: x, posEmb: tf.zeros([1, 3, 8]) }),
        "'posEmb' must have shape",
      ],
    ];
    for (const [f, text] of cases) {
      const e = thrown(f);
      expect(e.code).toBe('INVALID_INPUT');
      expect(e.message).toContain(text);
    }
    // posEmb is accepted and ignored by the plain adapter, as NeMo's forward does.
    expect(() => a.forward({ query: x, key: x, value: x, posEmb: tf.zeros([1, 7, 8]) })).not.toThrow();
  });

  it('forward leaks no tensors', () => {
    const x = normal([2, 6, 8], 1, createRng(2));
    const mask = paddingMask([6, 2], 6);
    const [, posEmb] = new RelPositionalEncodingAdapter({ dModel: 8, maxLen: 8 }).forward(x);
    const adapters = [
      new MultiHeadAttentionAdapter({ nHead: 2, nFeat: 8 }),
      new RelPositionMultiHeadAttentionAdapter({ nHead: 2, nFeat: 8 }),
    ];
    for (const a of adapters) {
      for (const fused of [false, true]) {
        a.useFusedAttention = fused;
        const before = tf.memory().numTensors;
        a.forward({ query: x, key: x, value: x, mask, posEmb }).dispose();
        expect(tf.memory().numTensors).toBe(before);
      }
    }
    const t = new TransformerMultiHeadAttentionAdapter({ hiddenSize: 8, numAttentionHeads: 2 });
    const attentionMask = additiveMask([6, 2], 6);
    const before = tf.memory().numTensors;
    t.forward({ queries: x, keys: x, values: x, attentionMask }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    const n = tf.memory().numTensors;
    new MultiHeadAttentionAdapter({ nHead: 2, nFeat: 8 }).dispose();
    expect(tf.memory().numTensors).toBe(n);
  });
});
