import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import {
  Average,
  BatchSplit,
  Fuse,
  Parallel,
  Stack,
  type SetupInput,
} from '../../../src/adapters/composition/index.js';
import { input, modelWith, type TinyModel } from './fixture.js';

/** Sum of |gradient| per adapter (and per fusion layer) for `loss(output)` with `setup` active, in training. */
function gradNorms(
  model: TinyModel,
  setup: SetupInput,
  x: Tensor,
  loss: (y: Tensor) => Tensor,
): Record<string, number> {
  model.setActiveSetup(setup);
  model.train();
  const vars = model.parameters().filter((v) => v.trainable);
  const { value, grads } = tf.variableGrads(() => {
    const l = loss(model.forward(x));
    const aux = model.collectAuxiliaryLosses({ reset: true }).total;
    return tf.add(l, aux) as tf.Scalar;
  }, vars);
  const out: Record<string, number> = {};
  const owners: Array<[string, tf.Variable[]]> = [
    ...model
      .adapterNames()
      .map((n) => [n, model.getAdapterModule(n)!.parameters()] as [string, tf.Variable[]]),
    ...model
      .listFusions()
      .map(
        (f) =>
          [`fusion ${f}`, model.getFusionLayers(f).flatMap((l) => l.parameters())] as [string, tf.Variable[]],
      ),
  ];
  for (const [name, params] of owners) {
    out[name] = params.reduce(
      (s, v) => s + (grads[v.name] ? tf.tidy(() => tf.sum(tf.abs(grads[v.name]!)).dataSync()[0]!) : 0),
      0,
    );
  }
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

const sumSq = (y: Tensor) => tf.sum(tf.square(y));

describe('training through composition blocks', () => {
  it('B-312 Average in training gives both adapters gradients; with BatchSplit each adapter gets gradient only from its own rows', () => {
    const model = modelWith(['a', 'b']);
    const x = input(3);
    const avg = gradNorms(model, Average('a', 'b'), x, sumSq);
    expect(avg.a).toBeGreaterThan(0);
    expect(avg.b).toBeGreaterThan(0);

    const split = BatchSplit('a', 'b', { batchSizes: [1, 2] });
    const rowMask = (keep: number[]) => (y: Tensor) =>
      tf.sum(tf.mul(tf.square(y), tf.tensor2d(keep, [3, 1])));
    const onlyRow0 = gradNorms(model, split, x, rowMask([1, 0, 0]));
    expect(onlyRow0.a).toBeGreaterThan(0);
    expect(onlyRow0.b).toBe(0);
    const onlyRows12 = gradNorms(model, split, x, rowMask([0, 1, 1]));
    expect(onlyRows12.a).toBe(0);
    expect(onlyRows12.b).toBeGreaterThan(0);
    x.dispose();
    model.dispose();
  });

  it('gradients reach every adapter through Stack, Parallel and Fuse (and the fusion layer), with the tensor count flat across steps', () => {
    const model = modelWith(['a', 'b', 'c']);
    model.addFusion(['a', 'b']);
    const x = input(2);
    const stack = gradNorms(model, Stack('a', 'b'), x, sumSq);
    expect(stack.a).toBeGreaterThan(0);
    expect(stack.b).toBeGreaterThan(0);
    expect(stack.c).toBe(0);
    const par = gradNorms(model, Parallel('a', Stack('b', 'c')), x, sumSq);
    for (const n of ['a', 'b', 'c']) expect(par[n]).toBeGreaterThan(0);
    const fuse = gradNorms(model, Stack('c', Fuse('a', 'b')), x, sumSq);
    for (const n of ['a', 'b', 'c', 'fusion a,b']) expect(fuse[n]).toBeGreaterThan(0);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) gradNorms(model, Stack('c', Fuse('a', 'b')), x, sumSq);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });
});
