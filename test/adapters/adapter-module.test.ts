import { beforeEach, describe, expect, it } from 'vitest';
import { type Tensor } from '../../src/backend/tf.js';
import {
  AccessContext,
  LinearAdapter,
  ResidualAddStrategy,
  ReturnResultStrategy,
  setAccessContext,
} from '../../src/adapters/index.js';
import { Module } from '../../src/nn/module.js';
import { seed } from '../fixtures/spec-models.js';
import { thrown } from '../helpers.js';

beforeEach(() => {
  seed();
  setAccessContext(new AccessContext());
});

describe('AdapterModule strategy set-up (SPEC §2.8)', () => {
  it('B-060 setupAdapterStrategy accepts undefined, configs and strategy objects; rejects 42, strings and modules', () => {
    const a = new LinearAdapter({ inFeatures: 50, dim: 5 });
    a.setupAdapterStrategy(undefined);
    expect(a.adapterStrategy).toBeInstanceOf(ResidualAddStrategy);
    a.setupAdapterStrategy({ type: 'returnResult' });
    expect(a.adapterStrategy).toBeInstanceOf(ReturnResultStrategy);
    const custom = { forward: (i: unknown) => i as Tensor };
    a.setupAdapterStrategy(custom);
    expect(a.adapterStrategy).toBe(custom);
    for (const bad of [42, 'residualAdd', new Module()]) {
      expect(thrown(() => a.setupAdapterStrategy(bad as never)).code).toBe('INVALID_STRATEGY');
    }
  });

  it('defaultStrategyConfig is a fresh copy of the class default; adapterUnfreeze makes every parameter trainable', () => {
    const a = new LinearAdapter({ inFeatures: 8, dim: 2 });
    const d = a.defaultStrategyConfig();
    expect(d).toMatchObject({ type: 'residualAdd' });
    (d as { type: string }).type = 'changed';
    expect(a.defaultStrategyConfig()).toMatchObject({ type: 'residualAdd' });
    for (const p of a.parameters()) p.trainable = false;
    a.adapterUnfreeze();
    expect(a.parameters().length).toBeGreaterThan(0);
    expect(a.parameters().every((p) => p.trainable)).toBe(true);
  });
});
