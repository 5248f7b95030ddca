import { describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import { ModulesToSaveWrapper, cloneModule } from '../../../src/adapters/index.js';
import { Linear } from '../../../src/nn/layers.js';
import { makeInput, randomize, seed } from '../../fixtures/lora-models.js';
import { maxAbsDiff, thrown, values } from '../../helpers.js';

describe('cloneModule', () => {
  it('copies parameters into new variables with the same values and flags; the copy is independent', () => {
    seed();
    const lin = new Linear({ inFeatures: 3, outFeatures: 2 });
    lin.weight.trainable = false;
    const c = cloneModule(lin);
    expect(c).toBeInstanceOf(Linear);
    expect(c.weight).not.toBe(lin.weight);
    expect(values(c.weight)).toEqual(values(lin.weight));
    expect(c.weight.trainable).toBe(false);
    randomize(c.weight, 9);
    expect(values(c.weight)).not.toEqual(values(lin.weight));
    c.dispose();
    expect(lin.weight.isDisposed).toBe(false);
  });
});

describe('ModulesToSaveWrapper', () => {
  it('runs the original until a copy is running; each adapter has its own trainable copy', () => {
    seed();
    const lin = new Linear({ inFeatures: 3, outFeatures: 2 });
    const w = new ModulesToSaveWrapper(lin);
    const x = makeInput(4, 3);
    const y0 = lin.forward(x);
    expect(w.activeModule()).toBe(lin);
    const a = w.addCopy('a') as Linear;
    expect(a.parameters().every((p) => p.trainable)).toBe(true);
    randomize(a.weight, 3);
    w.ctx = { activeAdapters: () => [] };
    expect(maxAbsDiff(w.forward(x), y0)).toBe(0);
    w.ctx = { activeAdapters: () => ['a'] };
    expect(maxAbsDiff(w.forward(x), a.forward(x))).toBe(0);
    expect(maxAbsDiff(w.forward(x), y0)).toBeGreaterThan(1e-3);
  });

  it('B-322 two running adapters with copies → INVALID_CONFIG naming the module and both; removeCopy frees the copy', () => {
    const w = new ModulesToSaveWrapper(new Linear({ inFeatures: 3, outFeatures: 2 }));
    w.layerPath = 'classifier';
    w.addCopy('a');
    const b = w.addCopy('b');
    expect(w.heldAdapters()).toEqual(['a', 'b']);
    w.ctx = { activeAdapters: () => ['a', 'b'] };
    const e = thrown(() => w.activeModule());
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain('classifier');
    expect(e.message).toContain('a, b');
    const before = tf.memory().numTensors;
    w.removeCopy('b');
    expect(w.heldAdapters()).toEqual(['a']);
    expect(tf.memory().numTensors).toBeLessThan(before);
    expect((b as Linear).weight.isDisposed).toBe(true);
  });
});
