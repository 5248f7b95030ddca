import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { normal, tfSeed, uniform } from '../../src/nn/init.js';
import { createRng, manualSeed } from '../../src/rng.js';

describe('parameter initialisers', () => {
  it('uniform draws float32 values inside (−bound, bound), the same ones for the same seed', () => {
    const a = uniform([50, 40], 0.25, createRng(3));
    const b = uniform([50, 40], 0.25, createRng(3));
    expect(a.shape).toEqual([50, 40]);
    expect(a.dtype).toBe('float32');
    const v = a.dataSync();
    expect(Math.max(...v)).toBeLessThanOrEqual(0.25);
    expect(Math.min(...v)).toBeGreaterThanOrEqual(-0.25);
    // 2000 draws spread over the interval, not a constant.
    expect(Math.max(...v) - Math.min(...v)).toBeGreaterThan(0.4);
    expect(Array.from(b.dataSync())).toEqual(Array.from(v));
    const c = uniform([50, 40], 0.25, createRng(4));
    expect(Array.from(c.dataSync())).not.toEqual(Array.from(v));
    tf.dispose([a, b, c]);
  });

  it('normal has the requested mean and standard deviation', () => {
    const t = normal([100, 100], 0.5, createRng(7), 2);
    const { mean, variance } = tf.moments(t);
    expect(mean.dataSync()[0]!).toBeCloseTo(2, 1);
    expect(Math.sqrt(variance.dataSync()[0]!)).toBeCloseTo(0.5, 1);
    tf.dispose([t, mean, variance]);
  });

  it('defaults to the library RNG, so one library seed fixes the draws and tfSeed', () => {
    manualSeed(11);
    const a = Array.from(uniform([8], 1).dataSync());
    const s = tfSeed();
    manualSeed(11);
    expect(Array.from(uniform([8], 1).dataSync())).toEqual(a);
    expect(tfSeed()).toBe(s);
    expect(Number.isInteger(s)).toBe(true);
    expect(s).toBeGreaterThanOrEqual(0);
    expect(s).toBeLessThan(2 ** 31);
  });
});
