import { beforeEach, describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import {
  buildAdapter,
  getAdapterTypeSchema,
  LinearAdapter,
  ResidualAddStrategy,
} from '../../../src/adapters/index.js';
import { activationFn } from '../../../src/nn/activations.js';
import { LayerNorm, type Linear } from '../../../src/nn/layers.js';
import { createRng } from '../../../src/rng.js';
import { makeX, seed } from '../../fixtures/spec-models.js';
import { thrown, values } from '../../helpers.js';

const sum = (t: tf.Tensor) => tf.sum(t).dataSync()[0]!;
const absSum = (t: tf.Tensor) => tf.sum(tf.abs(t)).dataSync()[0]!;
const param = (a: LinearAdapter, key: string) => a.stateDict().get(key)!;

beforeEach(() => seed());

describe('linear adapter (SPEC §2.9.2, §3.8)', () => {
  it('B-129 the linear schema fields are exactly type, enabled, inFeatures, dim, activation, normPosition, dropout, adapterStrategy', () => {
    expect(Object.keys(getAdapterTypeSchema('linear').fields).sort()).toEqual(
      [
        'activation',
        'adapterStrategy',
        'dim',
        'dropout',
        'enabled',
        'inFeatures',
        'normPosition',
        'type',
      ].sort(),
    );
  });

  it('B-130 pre-norm: the up projection sums to 0 and the output is 0', () => {
    const a = new LinearAdapter({ inFeatures: 50, dim: 5, normPosition: 'pre' });
    expect(sum(param(a, 'module.3.weight'))).toBe(0);
    expect(Math.abs(sum(a.forward(makeX())))).toBeLessThanOrEqual(1e-8);
    expect(absSum(param(a, 'module.1.weight'))).toBeGreaterThan(0);
  });

  it('B-131 pre-norm with dropout 0.5 in training still outputs 0', () => {
    const a = new LinearAdapter({ inFeatures: 50, dim: 5, dropout: 0.5 });
    a.train();
    expect(a.dropout).not.toBeNull();
    expect(Math.abs(sum(a.forward(makeX())))).toBeLessThanOrEqual(1e-8);
  });

  it('B-132 post-norm: the LayerNorm γ and β sum to 0 and the output is 0', () => {
    const a = new LinearAdapter({ inFeatures: 50, dim: 5, normPosition: 'post' });
    expect(sum(param(a, 'module.3.weight'))).toBe(0);
    expect(sum(param(a, 'module.3.bias'))).toBe(0);
    expect(absSum(a.forward(makeX()))).toBeLessThanOrEqual(1e-8);
  });

  it('B-133 post-norm keeps a non-zero last Linear; pre-norm has γ = 1, β = 0 and a zero up projection', () => {
    const post = new LinearAdapter({ inFeatures: 50, dim: 5, normPosition: 'post' });
    expect(absSum(param(post, 'module.2.weight'))).toBeGreaterThan(0);
    expect([...post.stateDict().keys()]).toEqual([
      'module.0.weight',
      'module.2.weight',
      'module.3.weight',
      'module.3.bias',
    ]);
    const pre = new LinearAdapter({ inFeatures: 50, dim: 5, normPosition: 'pre' });
    expect(values(param(pre, 'module.0.weight')).every((v) => v === 1)).toBe(true);
    expect(values(param(pre, 'module.0.bias')).every((v) => v === 0)).toBe(true);
    expect(values(param(pre, 'module.3.weight')).every((v) => v === 0)).toBe(true);
    expect([...pre.stateDict().keys()]).toEqual([
      'module.0.weight',
      'module.0.bias',
      'module.1.weight',
      'module.3.weight',
    ]);
    expect(pre.numParameters()).toBe(2 * 50 * 5 + 2 * 50);
  });

  it('B-134 the default strategy is residualAdd', () => {
    expect(new LinearAdapter({ inFeatures: 50, dim: 5 }).adapterStrategy).toBeInstanceOf(ResidualAddStrategy);
    expect(buildAdapter({ type: 'linear', inFeatures: 4, dim: 2 })).toBeInstanceOf(LinearAdapter);
  });

  it("B-135 activation 'tanh' lists the seven names; normPosition 'mid' lists pre and post", () => {
    const act = thrown(() => buildAdapter({ type: 'linear', inFeatures: 50, dim: 5, activation: 'tanh' }));
    expect(act.code).toBe('INVALID_CONFIG');
    for (const n of ['identity', 'hardtanh', 'relu', 'selu', 'swish', 'silu', 'gelu'])
      expect(act.message).toContain(n);
    const norm = thrown(() => buildAdapter({ type: 'linear', inFeatures: 50, dim: 5, normPosition: 'mid' }));
    expect(norm.code).toBe('INVALID_CONFIG');
    expect(norm.message).toContain('pre, post');
    expect(thrown(() => activationFn('tanh')).code).toBe('INVALID_CONFIG');
  });

  it('B-136 activation spot values', () => {
    const at = (name: string, x: number) => activationFn(name)(tf.scalar(x)).dataSync()[0]!;
    const cases: Array<[string, number, number]> = [
      ['gelu', 1, 0.8413447460685429],
      ['gelu', -1, -0.15865525393145707],
      ['swish', 1, 0.7310585786300049],
      ['silu', 1, 0.7310585786300049],
      ['selu', -1, -1.1113307378125625],
      ['selu', 1, 1.0507009873554805],
      ['hardtanh', 2, 1],
      ['relu', -1, 0],
      ['identity', -3, -3],
    ];
    for (const [name, x, want] of cases)
      expect(Math.abs(at(name, x) - want), `${name}(${x})`).toBeLessThanOrEqual(1e-6);
  });

  it('B-137 LayerNorm of [1, 3] is ±0.9999950000374997 (eps 1e-5, biased variance)', () => {
    const y = values(new LayerNorm({ features: 2 }).forward(tf.tensor2d([[1, 3]])));
    expect(Math.abs(y[0]! + 0.9999950000374997)).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(y[1]! - 0.9999950000374997)).toBeLessThanOrEqual(1e-6);
  });

  it('B-138 the first linear is within ±1/√50, and the same seed gives bitwise-equal weights', () => {
    const build = () => new LinearAdapter({ inFeatures: 50, dim: 5, rng: createRng(42) });
    const a = build();
    const w = values((a.module.at(1) as Linear).weight);
    const bound = 1 / Math.sqrt(50);
    expect(w.every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(bound / 2);
    expect(values((build().module.at(1) as Linear).weight)).toEqual(w);
  });
});
