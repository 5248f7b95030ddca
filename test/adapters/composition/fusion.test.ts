import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { AdapterFusion, Fuse, Stack } from '../../../src/adapters/composition/index.js';
import { thrown } from '../../helpers.js';
import { D, input, modelWith, randomize } from './fixture.js';

describe('Fuse and AdapterFusion layers', () => {
  it("B-306 Fuse('a','b') without a fusion layer for ['a','b'] is NOT_FOUND naming it and listing the existing ones", () => {
    const model = modelWith(['a', 'b', 'c']);
    model.addFusion(['b', 'c']);
    const e = thrown(() => model.setActiveSetup(Fuse('a', 'b')));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toContain("'a,b'");
    expect(e.message).toContain('existing fusions: b,c');
    expect(model.getActiveSetup()).toBeNull();
    // Same error with the list shorthand.
    expect(thrown(() => model.setActiveSetup([['a', 'b']])).code).toBe('NOT_FOUND');
    model.dispose();
  });

  it("B-307 addFusion(['a','b']) then Fuse('a','b') matches the dynamic BertFusion formulas; freezing all and unfreezing the fusion trains only the fusion; parameter count as AdapterHub's", () => {
    const model = modelWith(['a', 'b']);
    const name = model.addFusion(['a', 'b']);
    expect(name).toBe('a,b');
    const [fusion] = model.getFusionLayers(['a', 'b']);
    expect(fusion).toBeInstanceOf(AdapterFusion);
    // AdapterHub's dynamic BertFusion: query D×D + D, key D×D + D, value D×D (no bias).
    expect(fusion!.numParameters()).toBe(3 * D * D + 2 * D);
    // Value matrix initialised to the identity (off-diagonal 1e-6), as AdapterHub does.
    const vw = fusion!.getChild('value')!.getParameter('weight')!.arraySync() as number[][];
    expect(vw[0]![0]).toBe(1);
    expect(vw[0]![1]).toBeCloseTo(1e-6, 12);
    randomize(fusion!, 42);
    model.setActiveSetup(Fuse('a', 'b'));
    const x = input(3);
    const got = model.forward(x);
    const want = tf.tidy(() => {
      const h = model.body.base(x);
      const ups = ['a', 'b'].map((n) => model.getAdapterModule(n)!.forward(h) as Tensor);
      const p = (m: string, k: string) => fusion!.getChild(m)!.getParameter(k)!;
      const lin = (t: Tensor, m: string, bias: boolean) => {
        const y = tf.matMul(t, p(m, 'weight'), false, true);
        return bias ? tf.add(y, p(m, 'bias')) : y;
      };
      const q = lin(h, 'query', true);
      const scores = ups.map((u) => tf.sum(tf.mul(q, lin(u, 'key', true)), -1, true)); // [B, 1] each
      const probs = tf.softmax(tf.concat(scores, -1)); // [B, 2]
      const vals = ups.map((u) => lin(u, 'value', false));
      const ctx = tf.add(
        tf.mul(tf.slice(probs, [0, 0], [-1, 1]), vals[0]!),
        tf.mul(tf.slice(probs, [0, 1], [-1, 1]), vals[1]!),
      );
      return tf.add(ctx, h);
    });
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]!)).toBeLessThan(1e-5);

    // Train only the fusion.
    model.train();
    model.freeze();
    model.unfreezeFusion(['a', 'b']);
    const trainable = model.parameters().filter((v) => v.trainable);
    const fusionVars = new Set(fusion!.parameters());
    expect(trainable.length).toBe(fusionVars.size);
    expect(trainable.every((v) => fusionVars.has(v))).toBe(true);
    const adapterBefore = ['a', 'b'].map((n) =>
      model
        .getAdapterModule(n)!
        .parameters()
        .map((v) => Array.from(v.dataSync())),
    );
    const fusionBefore = fusion!.parameters().map((v) => Array.from(v.dataSync()));
    const { value: loss, grads } = tf.variableGrads(() => {
      const y = model.forward(x);
      const aux = model.collectAuxiliaryLosses({ reset: true }).total;
      return tf.add(tf.mean(tf.square(y)), aux) as tf.Scalar;
    }, trainable);
    for (const v of trainable) {
      const g = grads[v.name]!;
      expect(tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0]!)).toBeGreaterThan(0);
      v.assign(tf.tidy(() => tf.sub(v, tf.mul(g, 0.1))));
    }
    tf.dispose([loss, ...Object.values(grads)]);
    ['a', 'b'].forEach((n, i) => {
      expect(
        model
          .getAdapterModule(n)!
          .parameters()
          .map((v) => Array.from(v.dataSync())),
      ).toEqual(adapterBefore[i]);
    });
    expect(fusion!.parameters().map((v) => Array.from(v.dataSync()))).not.toEqual(fusionBefore);
    tf.dispose([x, got, want]);
    model.dispose();
  });

  it('a dynamic fusion in training registers 0.01·Σ(I − W_v)² as an auxiliary loss; the static preset has no value matrix and no loss', () => {
    const model = modelWith(['a', 'b', 'c']);
    model.addFusion(['a', 'b']);
    model.addFusion(['a', 'c'], 'static');
    const [dyn] = model.getFusionLayers('a,b');
    const [stat] = model.getFusionLayers('a,c');
    expect(stat!.getChild('value')).toBeUndefined();
    expect(stat!.numParameters()).toBe(2 * D * D + 2 * D);
    randomize(dyn!, 3);
    model.setActiveSetup(Stack('c', Fuse('a', 'b')));
    model.train();
    const x = input(2);
    model.forward(x).dispose();
    const { total } = model.collectAuxiliaryLosses({ reset: true });
    const want = tf.tidy(() => {
      const w = dyn!.getChild('value')!.getParameter('weight')!;
      return tf.mul(0.01, tf.sum(tf.square(tf.sub(tf.eye(D), w))));
    });
    expect(Math.abs((total as Tensor).dataSync()[0]! - want.dataSync()[0]!)).toBeLessThan(1e-4);
    model.setActiveSetup(Fuse('a', 'c'));
    model.forward(x).dispose();
    expect(model.collectAuxiliaryLosses({ reset: true }).total).toBe(0);
    tf.dispose([x, total as Tensor, want]);
    model.dispose();
  });

  it('addFusion errors leave the model unchanged: unknown adapter NOT_FOUND, existing fusion, bad config fields, adapters on different modules', () => {
    const model = modelWith(['a'], { cfg: { twoHosts: true } });
    model.addAdapter('head:h', { type: 'linear', inFeatures: D, dim: 4 });
    model.addAdapter('b', { type: 'linear', inFeatures: D, dim: 4 });
    const before = JSON.stringify(model.cfg);
    const count = model.numParameters();
    const unknown = thrown(() => model.addFusion(['a', 'zz']));
    expect(unknown.code).toBe('NOT_FOUND');
    expect(unknown.message).toContain('a, h, b');
    const field = thrown(() => model.addFusion(['a', 'b'], { keys: true } as never));
    expect(field.code).toBe('INVALID_CONFIG');
    expect(field.message).toContain('keys');
    expect(field.message).toContain('valueBeforeSoftmax');
    const preset = thrown(() => model.addFusion(['a', 'b'], 'fancy' as never));
    expect(preset.message).toContain('dynamic, static');
    const split = thrown(() => model.addFusion(['a', 'h']));
    expect(split.code).toBe('INVALID_CONFIG');
    expect(split.message).toContain("'head'");
    expect(JSON.stringify(model.cfg)).toBe(before);
    expect(model.numParameters()).toBe(count);
    model.addFusion(['a', 'b']);
    const dup = thrown(() => model.addFusion(['a', 'b']));
    expect(dup.code).toBe('INVALID_CONFIG');
    expect(dup.message).toContain('already exists');
    // Deleting an adapter removes the fusions over it.
    model.deleteAdapter('b');
    expect(model.listFusions()).toEqual([]);
    expect(model.numParameters()).toBeLessThan(count);
    model.dispose();
  });
});
