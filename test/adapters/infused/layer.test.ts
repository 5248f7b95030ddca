import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import '../../../src/adapters/builtins.js';
import { InfusedAdapter } from '../../../src/adapters/infused/index.js';
import { withAdapters } from '../../../src/adapters/host.js';
import { buildAdapter, defaultStrategyOf, getAdapterTypeSchema } from '../../../src/adapters/registry.js';
import { ReturnResultStrategy } from '../../../src/adapters/strategies/index.js';
import { normal } from '../../../src/nn/init.js';
import { Module } from '../../../src/nn/module.js';
import { createRng } from '../../../src/rng.js';
import { expectClose, thrown } from '../../helpers.js';

class Ia3Host extends withAdapters(Module) {
  static override readonly typeName: string = 'Ia3TestHost';
  lastRun: string[] = [];
  override forward(x: Tensor): Tensor {
    this.lastRun = this.getEnabledAdapters();
    return this.forwardEnabledAdapters(x);
  }
}

describe('infused (IA³) adapter', () => {
  it('B-156 infused is the identity at init; set to enabled: false it is skipped by forwardEnabledAdapters', () => {
    const x = normal([2, 5, 4], 1, createRng(0));
    const a = new InfusedAdapter({ inFeatures: 4 });
    expect(Array.from(a.scalers.dataSync())).toEqual([1, 1, 1, 1]);
    expectClose(a.forward(x), x, 0);

    const host = new Ia3Host();
    host.addAdapter('ia3', { type: 'infused', inFeatures: 4, enabled: false });
    const held = host.getAdapterModule('ia3') as InfusedAdapter;
    held.scalers.assign(tf.tensor1d([2, 3, 4, 5]));
    expect(host.isAdapterAvailable()).toBe(true);
    expect(host.getEnabledAdapters()).toEqual([]);
    expectClose(host.forward(x), x, 0);
    expect(host.lastRun).toEqual([]);
    // Enabled, it scales the last dimension.
    host.setEnabledAdapters('ia3', true);
    expectClose(host.forward(x), tf.mul(x, tf.tensor1d([2, 3, 4, 5])), 1e-6);
    expect(host.lastRun).toEqual(['ia3']);
  });

  it('has one parameter scalers [inFeatures], returnResult by default, and a schema of its options', () => {
    const a = buildAdapter({ type: 'infused', inFeatures: 6 }) as InfusedAdapter;
    expect([...a.stateDict().keys()]).toEqual(['scalers']);
    expect(a.scalers.shape).toEqual([6]);
    expect(a.numParameters()).toBe(6);
    expect(a.adapterStrategy).toBeInstanceOf(ReturnResultStrategy);
    expect(defaultStrategyOf('infused')).toEqual({ type: 'returnResult' });
    expect(Object.keys(getAdapterTypeSchema('infused').fields).sort()).toEqual([
      'adapterStrategy',
      'enabled',
      'inFeatures',
      'type',
    ]);
    // Gradients reach the scalers.
    const x = normal([3, 6], 1, createRng(1));
    const { grads, value } = tf.variableGrads(() => tf.sum(a.forward(x)) as tf.Scalar);
    value.dispose();
    expectClose(grads[a.scalers.name]!, tf.sum(x, 0), 1e-5);
  });

  it('rejects a wrong last dimension and a bad inFeatures', () => {
    const a = new InfusedAdapter({ inFeatures: 4 });
    const e = thrown(() => a.forward(tf.zeros([2, 5])));
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.message).toContain('4');
    expect(thrown(() => buildAdapter({ type: 'infused', inFeatures: 0 })).code).toBe('INVALID_CONFIG');
  });
});
