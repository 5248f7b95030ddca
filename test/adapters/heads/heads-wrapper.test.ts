/** The module standing where an adapter-owned head lives (SPEC §5.2). */
import { describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import { AdapterHeadsWrapper } from '../../../src/adapters/heads/heads-wrapper.js';
import { Linear } from '../../../src/nn/layers.js';
import { manualSeed } from '../../../src/rng.js';
import { thrown } from '../../helpers.js';

function wrapped(active: string[]) {
  manualSeed(4);
  const original = new Linear({ inFeatures: 3, outFeatures: 2 });
  const w = new AdapterHeadsWrapper(original);
  w.layerPath = 'head';
  w.headsCtx = { activeAdapters: () => active, enabledAdapters: () => active };
  return { original, w };
}

describe('AdapterHeadsWrapper', () => {
  const x = tf.tensor2d([[1, -2, 0.5]]);

  it('freezes the original, keeps its state keys, and runs it while no owner is active', () => {
    const { original, w } = wrapped([]);
    w.addCopy('a');
    w.addExtension('e', 3, ['new']);
    expect(original.parameters().every((p) => !p.trainable)).toBe(true);
    expect([...w.stateDict().keys()]).toEqual([
      'weight',
      'bias',
      'modules_to_save.a.weight',
      'modules_to_save.a.bias',
      'output_extensions.e.weight',
      'output_extensions.e.bias',
    ]);
    expect(w.forward(x).dataSync()).toEqual(original.forward(x).dataSync());
    w.removeCopy('a');
    w.removeExtension('e');
    expect(w.isEmpty()).toBe(true);
    w.restoreOriginalFlags();
    expect(original.parameters().every((p) => p.trainable)).toBe(true);
  });

  it("appends the active owner's new logits to the active copy's output", () => {
    const active: string[] = ['a', 'e'];
    const { w } = wrapped(active);
    const copy = w.addCopy('a') as Linear;
    copy.bias!.assign(tf.tensor1d([10, 20]));
    const ext = w.addExtension('e', 3, ['new']);
    ext.bias.assign(tf.tensor1d([7]));
    const y = w.forward(x) as tf.Tensor;
    expect(y.shape).toEqual([1, 3]);
    expect(Array.from(y.dataSync()).slice(0, 2)).toEqual(Array.from(copy.forward(x).dataSync()));
    expect(y.dataSync()[2]).toBe(7);
  });

  it('two active owners of copies, or of extensions → INVALID_CONFIG naming the module and both adapters', () => {
    const { w } = wrapped(['a', 'b']);
    w.addCopy('a');
    w.addCopy('b');
    const e = thrown(() => w.forward(x));
    expect(e.code).toBe('INVALID_CONFIG');
    for (const s of ["'head'", "'a'", "'b'"]) expect(e.message).toContain(s);
    const { w: w2 } = wrapped(['a', 'b']);
    w2.addExtension('a', 3, ['x']);
    w2.addExtension('b', 3, ['y']);
    expect(thrown(() => w2.forward(x)).message).toContain('output extension');
  });

  it('unfreezeEnabled makes only enabled owners trainable', () => {
    const { w } = wrapped(['a']);
    w.addCopy('a');
    w.addCopy('b');
    for (const p of w.parameters()) p.trainable = false;
    w.unfreezeEnabled();
    expect(
      w.modules_to_save
        .get('a')!
        .parameters()
        .every((p) => p.trainable),
    ).toBe(true);
    expect(
      w.modules_to_save
        .get('b')!
        .parameters()
        .some((p) => p.trainable),
    ).toBe(false);
    expect(w.originalModule.parameters().some((p) => p.trainable)).toBe(false);
  });
});
