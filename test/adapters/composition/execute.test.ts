import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { Average, BatchSplit, Parallel, Stack } from '../../../src/adapters/composition/index.js';
import { expectClose, thrown, values } from '../../helpers.js';
import { input, modelWith, type TinyModel } from './fixture.js';

/** The body's base output chained through `names` directly (no setup involved). */
function chain(model: TinyModel, x: Tensor, names: string[]): Tensor {
  return tf.tidy(() => model.body.forwardAdapterChain(model.body.base(x), names));
}

describe('composition blocks at one host', () => {
  it("B-301 Stack('a','b') equals the default chain with only a, b enabled, bit for bit", () => {
    const model = modelWith(['a', 'b', 'c']);
    const x = input();
    model.setActiveSetup(Stack('a', 'b'));
    const stacked = model.forward(x);
    model.setActiveSetup(null);
    model.setEnabledAdapters('c', false);
    const chained = model.forward(x);
    expect(values(stacked)).toEqual(values(chained));
    // c really would change the output
    model.setEnabledAdapters('c', true);
    const all = model.forward(x);
    expect(values(all)).not.toEqual(values(chained));
    tf.dispose([x, stacked, chained, all]);
    model.dispose();
  });

  it("B-302 Stack('b','a') applies b first though a was added first; setup null applies a first again", () => {
    const model = modelWith(['a', 'b']);
    const x = input();
    model.setActiveSetup(Stack('b', 'a'));
    const ba = model.forward(x);
    const wantBa = chain(model, x, ['b', 'a']);
    const wantAb = chain(model, x, ['a', 'b']);
    expect(values(ba)).toEqual(values(wantBa));
    expect(values(ba)).not.toEqual(values(wantAb));
    model.setActiveSetup(null);
    const def = model.forward(x);
    expect(values(def)).toEqual(values(wantAb));
    tf.dispose([x, ba, wantBa, wantAb, def]);
    model.dispose();
  });

  it("B-304 BatchSplit('a','b',{batchSizes:[1,2]}) routes row 0 through a and rows 1-2 through b; sizes that do not sum to the batch are INVALID_INPUT naming both numbers", () => {
    const model = modelWith(['a', 'b']);
    const x = input(3);
    model.setActiveSetup(BatchSplit('a', 'b', { batchSizes: [1, 2] }));
    const y = model.forward(x);
    expect(y.shape).toEqual([3, 8]);
    tf.tidy(() => {
      expectClose(tf.slice(y, 0, 1), chain(model, tf.slice(x, 0, 1), ['a']), 1e-6);
      expectClose(tf.slice(y, 1, 2), chain(model, tf.slice(x, 1, 2), ['b']), 1e-6);
    });
    model.setActiveSetup(BatchSplit('a', 'b', { batchSizes: [2, 2] }));
    const e = thrown(() => model.forward(x));
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.message).toContain('sum to 4');
    expect(e.message).toContain('3 rows');
    tf.dispose([x, y]);
    model.dispose();
  });

  it("B-305 Average('a','b') is 0.5·y_a + 0.5·y_b; weights [1,3] give 0.25/0.75; normalizeWeights false gives 1·y_a + 3·y_b", () => {
    const model = modelWith(['a', 'b']);
    const x = input();
    const ya = chain(model, x, ['a']);
    const yb = chain(model, x, ['b']);
    const cases: Array<[ReturnType<typeof Average>, number, number]> = [
      [Average('a', 'b'), 0.5, 0.5],
      [Average('a', 'b', { weights: [1, 3] }), 0.25, 0.75],
      [Average('a', 'b', { weights: [1, 3], normalizeWeights: false }), 1, 3],
    ];
    for (const [setup, wa, wb] of cases) {
      model.setActiveSetup(setup);
      const y = model.forward(x);
      tf.tidy(() => expectClose(y, tf.add(tf.mul(ya, wa), tf.mul(yb, wb)), 1e-6));
      y.dispose();
    }
    tf.dispose([x, ya, yb]);
    model.dispose();
  });

  it('the tensor count stays flat over many forwards with each kind of setup active', () => {
    const model = modelWith(['a', 'b', 'c']);
    model.addFusion(['a', 'b']);
    const x = input(4);
    const setups = [
      Stack('a', 'b'),
      Average('a', Stack('b', 'c'), { weights: [1, 2] }),
      BatchSplit('a', Stack('b', 'c'), { batchSizes: [3, 1] }),
      Parallel('a', 'b'),
      ['c', ['a', 'b']] as const,
    ];
    for (const s of setups) {
      model.setActiveSetup(s);
      model.forward(x).dispose(); // warm-up
      const before = tf.memory().numTensors;
      for (let i = 0; i < 10; i++) model.forward(x).dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    x.dispose();
    model.dispose();
  });

  it('hosts that hold none of the setup adapters pass their input through; a Parallel replicates the batch once for the whole model', () => {
    const model = modelWith([], { cfg: { twoHosts: true } });
    for (const n of ['a', 'b']) model.addAdapter(`body:${n}`, { type: 'linear', inFeatures: 8, dim: 4 });
    for (const n of ['c', 'd']) model.addAdapter(`head:${n}`, { type: 'linear', inFeatures: 8, dim: 4 });
    for (const n of ['a', 'b', 'c', 'd']) {
      const m = model.getAdapterModule(n)!;
      for (const p of m.parameters()) p.assign(tf.randomNormal(p.shape, 0, 0.5, 'float32', n.charCodeAt(0)));
    }
    const x = input(2);
    // Stack over both hosts: body runs a, head runs c.
    model.setActiveSetup(Stack('a', 'c'));
    const y = model.forward(x);
    model.setActiveSetup(null);
    model.setEnabledAdapters('b', false);
    model.setEnabledAdapters('d', false);
    const want = model.forward(x);
    expect(values(y)).toEqual(values(want));
    // Parallel('a','b') at the body; the head holds neither, so its rows pass through its base.
    model.setEnabledAdapters(null, true);
    model.setActiveSetup(Parallel('a', 'b'));
    const p1 = model.forward(x);
    const p2 = model.forward(x);
    expect(p1.shape).toEqual([4, 8]);
    expect(values(p1)).toEqual(values(p2)); // each forward replicates once
    tf.dispose([x, y, want, p1, p2]);
    model.dispose();
  });
});
