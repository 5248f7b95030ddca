import { beforeEach, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import {
  AccessContext,
  buildStrategy,
  getStrategyTypeSchema,
  LinearAdapter,
  MhaResidualAddStrategy,
  ResidualAddStrategy,
  setAccessContext,
} from '../../../src/adapters/index.js';
import { Module } from '../../../src/nn/module.js';
import { AdapterHost, cfgPre, makeX, seed, Stub } from '../../fixtures/spec-models.js';
import { expectClose, meanAbsDiff, thrown } from '../../helpers.js';

let x: Tensor;
beforeEach(() => {
  seed();
  setAccessContext(new AccessContext());
  x = makeX();
});

/** A linear adapter whose last projection is all ones, so its output is non-zero. */
function activeAdapter(): LinearAdapter {
  const a = new LinearAdapter({ inFeatures: 50, dim: 5 });
  const up = a.module.at(3) as import('../../../src/nn/layers.js').Linear;
  up.weight.assign(tf.onesLike(up.weight));
  return a;
}

/** A host-like module whose training flag gates the strategy. */
function hostIn(mode: 'train' | 'eval'): Module {
  const m = new Module();
  return mode === 'train' ? m.train() : m.eval();
}

const fixedRng = (u: number) => {
  let calls = 0;
  return { rng: { next: () => (calls++, u) }, calls: () => calls };
};

describe('strategies (SPEC §2.8, §3.4)', () => {
  it('B-051 residualAdd fields are exactly type, stochasticDepth, l2Lambda', () => {
    expect(Object.keys(getStrategyTypeSchema('residualAdd').fields).sort()).toEqual([
      'l2Lambda',
      'stochasticDepth',
      'type',
    ]);
  });

  it('B-052 a default residualAdd has p = 0 and λ = 0 and returns ≈ x with a fresh adapter', () => {
    const s = buildStrategy({ type: 'residualAdd' }) as ResidualAddStrategy;
    expect(s.stochasticDepth).toBe(0);
    expect(s.l2Lambda).toBe(0);
    const a = new LinearAdapter({ inFeatures: 50, dim: 5 });
    expect(meanAbsDiff(s.forward(x, a, { module: hostIn('train') }) as Tensor, x)).toBeLessThan(1e-5);
  });

  it('B-053 p ∈ {0, 1}: eval gives the full output; training p = 0 full, p = 1 exactly the input', () => {
    const a = activeAdapter();
    const full = tf.add(x, a.forward(x));
    for (const p of [0, 1]) {
      const s = new ResidualAddStrategy({ stochasticDepth: p });
      expectClose(s.forward(x, a, { module: hostIn('eval') }) as Tensor, full, 1e-5);
    }
    expectClose(
      new ResidualAddStrategy({ stochasticDepth: 0 }).forward(x, a, { module: hostIn('train') }) as Tensor,
      full,
      1e-5,
    );
    const dropped = new ResidualAddStrategy({ stochasticDepth: 1 }).forward(x, a, {
      module: hostIn('train'),
    }) as Tensor;
    expect(meanAbsDiff(dropped, x)).toBe(0);
  });

  it('B-054 p = 0.5 with a draw of 0.3 doubles the contribution, 0.7 drops it, eval keeps it as is', () => {
    const a = activeAdapter();
    const out = a.forward(x);
    const keep = fixedRng(0.3);
    const y1 = new ResidualAddStrategy({ stochasticDepth: 0.5, rng: keep.rng }).forward(x, a, {
      module: hostIn('train'),
    }) as Tensor;
    expectClose(tf.div(tf.sub(y1, x), out), tf.fill(out.shape, 2), 1e-4);
    expect(keep.calls()).toBe(1);
    const drop = fixedRng(0.7);
    const y2 = new ResidualAddStrategy({ stochasticDepth: 0.5, rng: drop.rng }).forward(x, a, {
      module: hostIn('train'),
    }) as Tensor;
    expect(meanAbsDiff(y2, x)).toBe(0);
    expect(drop.calls()).toBe(1);
    const evalRng = fixedRng(0.7);
    const y3 = new ResidualAddStrategy({ stochasticDepth: 0.5, rng: evalRng.rng }).forward(x, a, {
      module: hostIn('eval'),
    }) as Tensor;
    expectClose(tf.div(tf.sub(y3, x), out), tf.fill(out.shape, 1), 1e-4);
    expect(evalRng.calls()).toBe(0);
  });

  it('B-055 stochasticDepth outside [0, 1] is INVALID_CONFIG when built, in any mode', () => {
    for (const p of [1.5, -0.1]) {
      const err = thrown(() => buildStrategy({ type: 'residualAdd', stochasticDepth: p }));
      expect(err.code).toBe('INVALID_CONFIG');
      expect(err.message).toContain('stochasticDepth');
      expect(err.message).toContain(String(p));
      expect(err.message).toContain('[0, 1]');
      expect(thrown(() => new ResidualAddStrategy({ stochasticDepth: p })).code).toBe('INVALID_CONFIG');
    }
    const host = new AdapterHost().eval();
    expect(
      thrown(() =>
        host.addAdapter('a', { ...cfgPre, adapterStrategy: { type: 'residualAdd', stochasticDepth: 1.5 } }),
      ).code,
    ).toBe('INVALID_CONFIG');
  });

  it('B-057 residualAdd given a plain object throws INVALID_INPUT suggesting mhaResidualAdd', () => {
    const err = thrown(() =>
      new ResidualAddStrategy().forward({ value: x }, activeAdapter(), { module: hostIn('eval') }),
    );
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toContain('object');
    expect(err.message).toContain('mhaResidualAdd');
  });

  it('B-058 mhaResidualAdd adds to value, or to values when value is absent', () => {
    const stub = new Stub(() => tf.onesLike(x));
    const s = new MhaResidualAddStrategy();
    const m = hostIn('eval');
    const q = tf.zerosLike(x);
    expectClose(s.forward({ query: q, key: q, value: x }, stub, { module: m }) as Tensor, tf.add(x, 1));
    expectClose(s.forward({ queries: q, keys: q, values: x }, stub, { module: m }) as Tensor, tf.add(x, 1));
  });

  it('B-059 mhaResidualAdd without value/values throws INVALID_INPUT listing the keys; the adapter does not run', () => {
    let ran = false;
    const stub = new Stub((y) => ((ran = true), y));
    const err = thrown(() =>
      new MhaResidualAddStrategy().forward({ query: x, key: x }, stub, { module: hostIn('eval') }),
    );
    expect(err.code).toBe('INVALID_INPUT');
    expect(err.message).toContain('query');
    expect(err.message).toContain('key');
    expect(ran).toBe(false);
  });

  it('B-061 stochastic depth and L2 follow the host mode, not the adapter mode', () => {
    const a = activeAdapter();
    a.train();
    const s = new ResidualAddStrategy({ stochasticDepth: 1, l2Lambda: 0.5 });
    const y = s.forward(x, a, { module: hostIn('eval') }) as Tensor;
    expectClose(y, tf.add(x, a.forward(x)), 1e-5);
    expect(a.registry['adapter_loss']).toBeUndefined();
  });
});
