import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import { registerSharedIdentity, unregisterSharedIdentity } from '../../../src/backend/kernels/identity.js';

const identity = (x: tf.Tensor) => tf.engine().runKernel('Identity', { x }) as tf.Tensor;

describe('shared Identity on the wasm backend', () => {
  afterAll(() => {
    registerSharedIdentity(); // as initBackend leaves it
  });

  it('the output shares the input data (no copy); disposing one keeps the other readable', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(registerSharedIdentity()).toBe('Identity');
    expect(registerSharedIdentity()).toBe('Identity'); // idempotent
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const y = identity(x);
    expect(y.dataId).toBe(x.dataId);
    expect(y.shape).toEqual([2, 2]);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
    y.dispose();
  });

  it('gradients saved through Identity are still right', () => {
    const x = tf.tensor1d([1, -2, 3]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(identity(v), v)))(x);
    expect(Array.from(g.dataSync())).toEqual([2, -4, 6]);
    tf.dispose([x, g]);
  });

  it("unregistering puts back wasm's own kernel, which copies", () => {
    unregisterSharedIdentity();
    const x = tf.tensor1d([5, 6]);
    const y = identity(x);
    expect(y.dataId).not.toBe(x.dataId);
    expect(Array.from(y.dataSync())).toEqual([5, 6]);
    tf.dispose([x, y]);
  });
});
