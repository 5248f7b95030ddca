import { describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import {
  VeraProjectionPair,
  generateVeraProjections,
  veraKaimingBound,
} from '../../../src/adapters/vera/projection.js';
import { thrown } from '../../helpers.js';

// Bit-exactness against PyTorch's generator is checked by the golden group V cases
// (test/fixtures/golden/v-*: expected.vera_A / expected.vera_B, through tools/golden/group-v.ts).
describe('VeRA projections', () => {
  it('the same key gives bit-identical matrices, a different key different ones', () => {
    const a = generateVeraProjections(42, 8, 16, 12);
    const b = generateVeraProjections(42, 8, 16, 12);
    const c = generateVeraProjections(43, 8, 16, 12);
    expect(Array.from(a.a)).toEqual(Array.from(b.a));
    expect(Array.from(a.b)).toEqual(Array.from(b.b));
    expect(Array.from(a.a)).not.toEqual(Array.from(c.a));
  });

  it('bounds follow the fan-in of each matrix', () => {
    const p = generateVeraProjections(3, 4, 64, 32);
    const maxAbs = (v: Float32Array) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    expect(maxAbs(p.a)).toBeLessThanOrEqual(veraKaimingBound(64));
    expect(maxAbs(p.b)).toBeLessThanOrEqual(veraKaimingBound(4));
    expect(maxAbs(p.b)).toBeGreaterThan(veraKaimingBound(64));
  });

  it('rejects a rank or size that is not a positive integer', () => {
    expect(() => generateVeraProjections(0, 0, 8, 8)).toThrow(/r must be a positive integer, got 0/);
    expect(() => generateVeraProjections(0, 4, 8.5, 8)).toThrow(/maxIn must be a positive integer/);
  });

  it('VeraProjectionPair holds the generated draws as float32 tensors and saves them only when asked', () => {
    const saved = VeraProjectionPair.generate({ key: 5, r: 3, maxIn: 4, maxOut: 6, saveProjection: true });
    const g = generateVeraProjections(5, 3, 4, 6);
    expect(saved.a.shape).toEqual([3, 4]);
    expect(saved.b.shape).toEqual([6, 3]);
    expect(Array.from(saved.a.dataSync())).toEqual(Array.from(g.a));
    expect(Array.from(saved.b.dataSync())).toEqual(Array.from(g.b));
    expect(saved.peftTensors().map((t) => t.peftKey)).toEqual(['vera_A', 'vera_B']);
    const unsaved = VeraProjectionPair.generate({ key: 5, r: 3, maxIn: 4, maxOut: 6, saveProjection: false });
    expect(unsaved.peftTensors()).toEqual([]);
    unsaved.dispose();
    expect(unsaved.a.isDisposed && unsaved.b.isDisposed).toBe(true);
    saved.dispose();
  });

  it('a loaded value replaces a projection (cast to float32, the old one freed); another shape → STATE_DICT_MISMATCH', () => {
    const pair = VeraProjectionPair.generate({ key: 1, r: 2, maxIn: 3, maxOut: 3, saveProjection: true });
    const before = tf.memory().numTensors;
    const old = pair.a;
    const value = tf.ones([2, 3], 'int32');
    pair.peftTensors()[0]!.assign(value);
    expect(old.isDisposed).toBe(true);
    expect(pair.a.dtype).toBe('float32');
    expect(Array.from(pair.a.dataSync())).toEqual([1, 1, 1, 1, 1, 1]);
    value.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const wrong = tf.zeros([3, 3]);
    const e = thrown(() => pair.peftTensors()[1]!.assign(wrong));
    expect(e.code).toBe('STATE_DICT_MISMATCH');
    expect(e.message).toContain('[3, 3]');
    expect(pair.b.shape).toEqual([3, 2]);
    wrong.dispose();
    pair.dispose();
  });
});
