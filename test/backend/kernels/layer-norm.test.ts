/**
 * The native LayerNorm kernel and its gradients against the tensor formula.
 * Runs only where the native addon is built; test/backend/native.test.ts prints the suite's one line
 * when it is not (and fails under CI=true).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { layerNorm } from '../../../src/nn/layers.js';
import { activateNative } from '../../../src/backend/native.js';
import { nativeAvailable, onAndOff, maxAbsDiff, values } from './native-harness.js';

describe.skipIf(!nativeAvailable)('native LayerNorm', () => {
  beforeAll(() => {
    activateNative({ enabled: true });
  });
  afterAll(() => {
    activateNative({ enabled: true });
  });

  const norms: Array<[string, number[]]> = [
    ['[B, T, D]', [3, 5, 16]],
    ['one row', [1, 7]],
    ['one feature (output is β)', [4, 1]],
    ['no rows', [0, 6]],
    ['a large offset mean', [2, 3, 32]],
  ];
  it.each(norms)('LayerNorm %s and its gradients agree with the tensor formula', (name, shape) => {
    const shift = name.includes('offset') ? 1000 : 0;
    const x = tf.add(tf.randomNormal(shape, 0, 2, 'float32', 15), shift);
    const f = shape.at(-1)!;
    const g = tf.randomNormal([f], 1, 0.5, 'float32', 16);
    const b = tf.randomNormal([f], 0, 0.5, 'float32', 17);
    const w = tf.randomNormal(shape, 0, 1, 'float32', 18);
    const { native, wasm } = onAndOff(() => {
      const y = values(layerNorm(x, g, b));
      const grads = tf.grads((xi: Tensor, gi: Tensor, bi: Tensor) =>
        tf.sum(tf.mul(layerNorm(xi, gi, bi), w)),
      )([x, g, b]);
      return { y, grads: grads.map(values) };
    });
    const tol = shift ? 2e-3 : 1e-4;
    expect(maxAbsDiff(native.y, wasm.y)).toBeLessThan(tol);
    native.grads.forEach((gr, i) => expect(maxAbsDiff(gr, wasm.grads[i]!)).toBeLessThan(shift ? 5e-2 : 2e-4));
    tf.dispose([x, g, b, w]);
  });

  it('LayerNorm with frozen γ and β: the input gradient is unchanged', () => {
    const x = tf.randomNormal([4, 8], 0, 1, 'float32', 19);
    const g = tf.variable(tf.randomNormal([8], 1, 0.3, 'float32', 20), false);
    const b = tf.variable(tf.zeros([8]), false);
    const { native, wasm } = onAndOff(() =>
      values(tf.grad((xi: Tensor) => tf.sum(tf.square(layerNorm(xi, g, b))))(x)),
    );
    expect(maxAbsDiff(native, wasm)).toBeLessThan(1e-4);
    tf.dispose([x, g, b]);
  });
});
