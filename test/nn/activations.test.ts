import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import { ActivationLayer, ACTIVATIONS, activationFn, gelu, swish } from '../../src/nn/activations.js';
import { thrown } from '../helpers.js';

describe('activations', () => {
  it('gelu is the exact erf form (not the tanh approximation) and swish is x·σ(x)', () => {
    const x = tf.tensor1d([-3, -1, 0, 0.5, 2]);
    const xs = Array.from(x.dataSync());
    const g = Array.from(gelu(x).dataSync());
    // x·Φ(x) with the standard normal CDF Φ; the tanh approximation is off by ~4e-5 at x = 2.
    const exact = [-0.0040496942, -0.15865525, 0, 0.34573123, 1.9544997];
    g.forEach((v, i) => expect(v).toBeCloseTo(exact[i]!, 5));
    const s = Array.from(swish(x).dataSync());
    s.forEach((v, i) => expect(v).toBeCloseTo(xs[i]! / (1 + Math.exp(-xs[i]!)), 6));
    x.dispose();
  });

  it('activationFn knows every listed name (silu is swish) and rejects others with INVALID_CONFIG listing the choices', () => {
    const x = tf.tensor1d([-2, 0.5]);
    for (const name of ACTIVATIONS) expect(activationFn(name)(x).shape).toEqual([2]);
    expect(activationFn('silu')).toBe(activationFn('swish'));
    expect(Array.from(activationFn('hardtanh')(x).dataSync())).toEqual([-1, 0.5]);
    const e = thrown(() => activationFn('tanh'));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain('tanh');
    expect(e.message).toContain('gelu');
    x.dispose();
  });

  it('ActivationLayer applies its activation, has no parameters, and checks the name when built', () => {
    const layer = new ActivationLayer({ activation: 'relu' });
    const x = tf.tensor1d([-1, 2]);
    const y = layer.forward(x) as Tensor;
    expect(Array.from(y.dataSync())).toEqual([0, 2]);
    expect(layer.numParameters()).toBe(0);
    expect(thrown(() => new ActivationLayer({ activation: 'softplus' })).code).toBe('INVALID_CONFIG');
    tf.dispose([x, y]);
  });
});
