import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { Linear, LayerNorm, Embedding } from '../../src/nn/layers.js';
import { getBackendInfo } from '../../src/backend/backend.js';

describe('smoke', () => {
  it('linear grads match built-in', () => {
    expect(getBackendInfo().name).toBe('wasm');
    const lin = new Linear({ inFeatures: 5, outFeatures: 3 });
    const x = tf.randomNormal([4, 2, 5]);
    const { value, grads } = tf.variableGrads(() => lin.forward(x).square().sum() as tf.Scalar);
    const ref = tf.grads((w: tf.Tensor, b: tf.Tensor) =>
      tf
        .add(tf.matMul(x.reshape([-1, 5]), w, false, true), b)
        .square()
        .sum(),
    )([lin.weight, lin.bias!]);
    expect(Object.keys(grads).length).toBe(2);
    const gw = grads[lin.weight.name]!.arraySync();
    expect(gw).toEqual(expect.anything());
    const diff = tf.sub(grads[lin.weight.name]!, ref[0]!).abs().max().dataSync()[0]!;
    expect(diff).toBeLessThan(1e-4);
    value.dispose();
  });
  it('embedding grads on wasm', () => {
    const e = new Embedding({ numEmbeddings: 10, embeddingDim: 4 });
    const ids = tf.tensor2d(
      [
        [1, 2],
        [2, 9],
      ],
      [2, 2],
      'int32',
    );
    const { grads } = tf.variableGrads(() => e.forward(ids).sum() as tf.Scalar);
    const g = grads[e.weight.name]!.arraySync() as number[][];
    expect(g[2]).toEqual([2, 2, 2, 2]);
    expect(g[0]).toEqual([0, 0, 0, 0]);
  });
  it('layernorm', () => {
    const ln = new LayerNorm({ features: 2 });
    const y = ln.forward(tf.tensor2d([[1, 3]])).dataSync();
    expect(Math.abs(y[1]! - 0.9999950000374997)).toBeLessThan(1e-6);
  });
});
