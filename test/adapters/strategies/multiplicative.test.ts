/**
 * The point-wise multiplicative strategy `input ⊙ (1 + adapter(input))`: identity at initialisation,
 * a direct computation, its config forms (`type` and NeMo-style `_target_`), stochastic depth and
 * the L2 loss, per-sample selection, and use at a transformer block's insertion point.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import {
  AccessContext,
  buildStrategy,
  fromNemoConfig,
  getStrategyTypeSchema,
  LinearAdapter,
  MultiplicativeStrategy,
  setAccessContext,
  TransformerEncoderBlockAdapter,
} from '../../../src/adapters/index.js';
import { Module } from '../../../src/nn/module.js';
import { normal } from '../../../src/nn/init.js';
import { createRng } from '../../../src/rng.js';
import { AdapterHost, makeX, seed, Stub } from '../../fixtures/spec-models.js';
import { expectClose, maxAbsDiff, thrown } from '../../helpers.js';

let x: Tensor;
beforeEach(() => {
  seed();
  setAccessContext(new AccessContext());
  x = makeX();
});

/** Small random values in every parameter of `m`. */
function perturb(m: Module, s: number): void {
  const rng = createRng(s);
  for (const p of m.parameters()) tf.tidy(() => p.assign(tf.mul(normal([...p.shape], 1, rng), 0.1)));
}

const hostIn = (mode: 'train' | 'eval') => (mode === 'train' ? new Module().train() : new Module().eval());

describe('multiplicative strategy', () => {
  it('fields are type, stochasticDepth, l2Lambda; built from {type} and from a NeMo-style _target_', () => {
    expect(Object.keys(getStrategyTypeSchema('multiplicative').fields).sort()).toEqual([
      'l2Lambda',
      'stochasticDepth',
      'type',
    ]);
    expect(buildStrategy({ type: 'multiplicative' })).toBeInstanceOf(MultiplicativeStrategy);
    const converted = fromNemoConfig({
      _target_: 'adapterkit.strategies.MultiplicativeAdapterStrategy',
      stochastic_depth: 0.1,
      l2_lambda: 0,
    });
    expect(converted).toEqual({ type: 'multiplicative', stochasticDepth: 0.1, l2Lambda: 0 });
    const s = buildStrategy(converted as { type: string });
    expect((s as MultiplicativeStrategy).stochasticDepth).toBe(0.1);
    expect(thrown(() => buildStrategy({ type: 'multiplicative', stochasticDepth: 2 })).code).toBe(
      'INVALID_CONFIG',
    );
  });

  it('identity at initialisation with the linear adapter (zero-initialised output layer), bit for bit', () => {
    const host = new AdapterHost();
    host.addAdapter('g', {
      type: 'linear',
      inFeatures: 50,
      dim: 5,
      adapterStrategy: { type: 'multiplicative' },
    });
    const adapter = host.getAdapterModule('g') as LinearAdapter;
    expect(adapter.adapterStrategy).toBeInstanceOf(MultiplicativeStrategy);
    expect(maxAbsDiff(host.forwardEnabledAdapters(x), x)).toBe(0);
  });

  it('equals input ⊙ (1 + adapter(input)) computed directly, and differs from residual add', () => {
    const a = new LinearAdapter({ inFeatures: 50, dim: 5 });
    perturb(a, 3);
    const y = new MultiplicativeStrategy().forward(x, a, { module: hostIn('eval') }) as Tensor;
    const out = a.forward(x) as Tensor;
    const want = tf.tidy(() => {
      const xs = x.arraySync() as number[][];
      const os = out.arraySync() as number[][];
      return tf.tensor2d(xs.map((row, i) => row.map((v, j) => v * (1 + os[i]![j]!))));
    });
    expectClose(y, want, 1e-6);
    expect(maxAbsDiff(y, tf.add(x, out))).toBeGreaterThan(1e-3);
  });

  it('a non-tensor input → INVALID_INPUT before the adapter runs', () => {
    let ran = false;
    const stub = new Stub((t) => ((ran = true), t));
    const err = thrown(() => new MultiplicativeStrategy().forward({ x } as never, stub, { module: stub }));
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toContain('multiplicative');
    expect(ran).toBe(false);
  });

  it('stochastic depth drops the gate to the identity in training, scales a kept one by 1/(1−p); eval ignores it', () => {
    const stub = new Stub((t) => tf.onesLike(t)); // gate 1 + 1 = 2
    const dropped = new MultiplicativeStrategy({ stochasticDepth: 0.5, rng: { next: () => 0.9 } as never });
    expectClose(dropped.forward(x, stub, { module: hostIn('train') }) as Tensor, x, 0);
    const kept = new MultiplicativeStrategy({ stochasticDepth: 0.5, rng: { next: () => 0.1 } as never });
    expectClose(kept.forward(x, stub, { module: hostIn('train') }) as Tensor, tf.mul(x, 3), 1e-6);
    expectClose(kept.forward(x, stub, { module: hostIn('eval') }) as Tensor, tf.mul(x, 2), 1e-6);
  });

  it("the L2 loss is taken on the adapter's output (the gate's distance from 1), per-sample sum of squares averaged over the batch", () => {
    const stub = new Stub((t) => tf.onesLike(t));
    stub.train();
    const y = new MultiplicativeStrategy({ l2Lambda: 0.01 }).forward(tf.mul(x, 10), stub, {
      module: stub,
    }) as Tensor;
    expectClose(y, tf.mul(x, 20), 1e-5);
    const losses = stub.registry['adapter_loss']!;
    expect(losses).toHaveLength(1);
    expect(losses[0]!.dataSync()[0]).toBeCloseTo(0.5, 6); // 0.01 · 50 ones, whatever the input's scale
  });

  it('per-sample selection: rows through different gates equal each gate run alone', () => {
    const host = new AdapterHost();
    for (const [n, s] of [
      ['a', 5],
      ['b', 6],
    ] as const) {
      host.addAdapter(n, {
        type: 'linear',
        inFeatures: 50,
        dim: 5,
        adapterStrategy: { type: 'multiplicative' },
      });
      perturb(host.getAdapterModule(n)!, s);
    }
    host.eval();
    const y = host.forwardEnabledAdapters(x, { adapterNames: ['b', 'a'] });
    const row = (t: Tensor, i: number) => tf.slice(t, [i, 0], [1, -1]);
    expectClose(row(y, 0), row(host.forwardAdapterChain(x, ['b']), 0), 1e-6);
    expectClose(row(y, 1), row(host.forwardAdapterChain(x, ['a']), 1), 1e-6);
  });

  it("at a transformer block's ffnOutput point: identity at init; with weights, the FFN output is gated", () => {
    const block = new TransformerEncoderBlockAdapter({ dModel: 16, nHead: 2, dFF: 32, rng: createRng(4) });
    block.eval();
    const h = normal([2, 5, 16], 1, createRng(8));
    const base = block.forward(h);
    block.addAdapter('g', {
      type: 'linear',
      inFeatures: 16,
      dim: 4,
      location: 'ffnOutput',
      adapterStrategy: { type: 'multiplicative' },
    });
    expect(maxAbsDiff(block.forward(h), base)).toBe(0);
    const g = block.getAdapterModule('g')!;
    perturb(g, 9);
    const child = (n: string) => block.getChild(n)!;
    const want = tf.tidy(() => {
      const n1 = child('norm1').forward(h) as Tensor;
      const hm = tf.add(h, child('self_attn').forward(n1, n1, n1, {}) as Tensor);
      const f = child('ffn').forward(child('norm2').forward(hm)) as Tensor;
      return tf.add(hm, tf.mul(f, tf.add(1, g.forward(f) as Tensor)));
    });
    expect(maxAbsDiff(block.forward(h), want)).toBeLessThan(1e-6);
  });
});
