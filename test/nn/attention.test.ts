import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import { causalMask, MultiHeadAttention } from '../../src/nn/attention.js';
import type { Linear } from '../../src/nn/layers.js';
import { createRng } from '../../src/rng.js';

const maxAbsDiff = (a: Tensor, b: Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

/** Reference attention written directly with tf ops and the built-in matMul. */
function reference(mha: MultiHeadAttention, q: Tensor, k: Tensor, v: Tensor, bias?: Tensor): Tensor {
  return tf.tidy(() => {
    const proj = (x: Tensor, name: string) => {
      const lin = mha.getChild(name) as Linear;
      return tf.add(tf.matMul(x, lin.weight, false, true), lin.bias!);
    };
    const [b, t1] = q.shape as number[];
    const t2 = k.shape[1]!;
    const { nHead: h, headDim: dk, dModel: d } = mha;
    const split = (x: Tensor, t: number) => tf.transpose(tf.reshape(x, [b!, t, h, dk]), [0, 2, 1, 3]);
    const Q = split(proj(q, 'q_proj'), t1!);
    const K = split(proj(k, 'k_proj'), t2);
    const V = split(proj(v, 'v_proj'), t2);
    let s = tf.div(tf.matMul(Q, K, false, true), Math.sqrt(dk));
    if (bias) s = tf.add(s, bias);
    const c = tf.matMul(tf.softmax(s), V);
    const merged = tf.reshape(tf.transpose(c, [0, 2, 1, 3]), [b!, t1!, d]);
    const out = mha.getChild('out_proj') as Linear;
    return tf.add(tf.matMul(merged, out.weight, false, true), out.bias!);
  });
}

describe('MultiHeadAttention', () => {
  it('has PyTorch-style projections and state keys', () => {
    const mha = new MultiHeadAttention({ dModel: 8, nHead: 2 });
    expect(MultiHeadAttention.typeName).toBe('MultiHeadAttention');
    expect([...mha.stateDict().keys()]).toEqual([
      'q_proj.weight',
      'q_proj.bias',
      'k_proj.weight',
      'k_proj.bias',
      'v_proj.weight',
      'v_proj.bias',
      'out_proj.weight',
      'out_proj.bias',
    ]);
    expect((mha.q_proj as Linear).weight.shape).toEqual([8, 8]);
    const noBias = new MultiHeadAttention({ dModel: 8, nHead: 2, bias: false });
    expect(noBias.numParameters()).toBe(4 * 64);
    mha.dispose();
    noBias.dispose();
  });

  it('matches a hand-written reference (self and cross attention)', () => {
    const mha = new MultiHeadAttention({ dModel: 12, nHead: 3, rng: createRng(1) });
    const x = tf.randomNormal([2, 5, 12], 0, 1, 'float32', 1);
    const mem = tf.randomNormal([2, 7, 12], 0, 1, 'float32', 2);
    expect(mha.forward(x, x, x).shape).toEqual([2, 5, 12]);
    expect(maxAbsDiff(mha.forward(x, x, x), reference(mha, x, x, x))).toBeLessThan(1e-5);
    expect(maxAbsDiff(mha.forward(x, mem, mem), reference(mha, x, mem, mem))).toBeLessThan(1e-5);
    const add = tf.randomNormal([5, 7]);
    expect(
      maxAbsDiff(mha.forward(x, mem, mem, { attnMask: add }), reference(mha, x, mem, mem, add)),
    ).toBeLessThan(1e-5);
  });

  it('matches the reference at a size that takes the per-matrix wasm path', () => {
    const mha = new MultiHeadAttention({ dModel: 128, nHead: 2, rng: createRng(2) });
    const x = tf.randomNormal([2, 40, 128], 0, 1, 'float32', 3);
    const bias = tf.reshape(causalMask(40, 40), [1, 1, 40, 40]);
    expect(maxAbsDiff(mha.forward(x, x, x, { causal: true }), reference(mha, x, x, x, bias))).toBeLessThan(
      1e-5,
    );
  });

  it('key padding mask makes padded keys irrelevant', () => {
    const mha = new MultiHeadAttention({ dModel: 8, nHead: 2, rng: createRng(3) });
    const q = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 7);
    const kv = tf.randomNormal([2, 6, 8], 0, 1, 'float32', 8);
    // batch 0 pads its last two keys, batch 1 its first one
    const padBool = tf.tensor2d(
      [
        [0, 0, 0, 0, 1, 1],
        [1, 0, 0, 0, 0, 0],
      ],
      [2, 6],
      'bool',
    );
    const padNum = tf.tensor2d(
      [
        [0, 0, 0, 0, 1, 1],
        [1, 0, 0, 0, 0, 0],
      ],
      [2, 6],
      'int32',
    );
    const keep = tf.tensor3d([0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0], [2, 6, 1]);
    const kv2 = tf.add(kv, tf.mul(keep, tf.randomNormal([2, 6, 8], 0, 5, 'float32', 9)));
    const y1 = mha.forward(q, kv, kv, { keyPaddingMask: padBool });
    const y2 = mha.forward(q, kv2, kv2, { keyPaddingMask: padBool });
    expect(maxAbsDiff(y1, y2)).toBeLessThan(1e-5);
    expect(maxAbsDiff(y1, mha.forward(q, kv2, kv2, { keyPaddingMask: padNum }))).toBeLessThan(1e-5);
    expect(maxAbsDiff(y1, mha.forward(q, kv2, kv2))).toBeGreaterThan(1e-3); // the mask does matter
  });

  it('causal: the output at position t does not depend on inputs after t', () => {
    const mha = new MultiHeadAttention({ dModel: 8, nHead: 2, rng: createRng(4) });
    const x = tf.randomNormal([1, 6, 8], 0, 1, 'float32', 10);
    const t = 2;
    const later = tf.concat(
      [tf.zeros([1, t + 1, 8]), tf.randomNormal([1, 6 - t - 1, 8], 0, 3, 'float32', 11)],
      1,
    );
    const x2 = tf.add(x, later);
    const y1 = mha.forward(x, x, x, { causal: true });
    const y2 = mha.forward(x2, x2, x2, { causal: true });
    const upTo = (y: Tensor) => tf.slice(y, [0, 0, 0], [1, t + 1, 8]);
    expect(maxAbsDiff(upTo(y1), upTo(y2))).toBeLessThan(1e-5);
    expect(maxAbsDiff(y1, y2)).toBeGreaterThan(1e-3);
  });

  it('fully masked rows give finite outputs', () => {
    const mha = new MultiHeadAttention({ dModel: 4, nHead: 1 });
    const x = tf.randomNormal([1, 3, 4]);
    const y = mha.forward(x, x, x, { keyPaddingMask: tf.ones([1, 3], 'bool'), causal: true });
    expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
  });

  it('has a gradient for every parameter on wasm, with masks and dropout', () => {
    expect(tf.getBackend()).toBe('wasm');
    const mha = new MultiHeadAttention({ dModel: 64, nHead: 2, dropout: 0.1, rng: createRng(5) });
    const x = tf.randomNormal([2, 40, 64]);
    const pad = tf.tensor2d(
      [Array(40).fill(0), [...Array(30).fill(0), ...Array(10).fill(1)]],
      [2, 40],
      'bool',
    );
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.square(mha.forward(x, x, x, { causal: true, keyPaddingMask: pad }))) as tf.Scalar,
    );
    const names = mha.namedParameters();
    expect(Object.keys(grads)).toHaveLength(names.length);
    for (const [path, p] of names) {
      const g = grads[p.name];
      expect(g, path).toBeDefined();
      expect(g!.shape).toEqual(p.shape);
      expect(tf.sum(tf.abs(g!)).dataSync()[0], path).toBeGreaterThan(0);
    }
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
  });

  it('does not leak tensors across forward+backward calls', () => {
    const mha = new MultiHeadAttention({ dModel: 64, nHead: 2, dropout: 0.1 });
    const x = tf.randomNormal([2, 40, 64]);
    const pad = tf.zeros([2, 40], 'bool');
    const step = () => {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(mha.forward(x, x, x, { causal: true, keyPaddingMask: pad })) as tf.Scalar,
      );
      value.dispose();
      Object.values(grads).forEach((g) => g.dispose());
    };
    step(); // warm-up: builds the cached causal mask
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) step();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('dropout is active only in training', () => {
    const mha = new MultiHeadAttention({ dModel: 8, nHead: 2, dropout: 0.5, rng: createRng(6) });
    const x = tf.randomNormal([1, 4, 8]);
    expect(maxAbsDiff(mha.forward(x, x, x), mha.forward(x, x, x))).toBeGreaterThan(0);
    mha.eval();
    expect(maxAbsDiff(mha.forward(x, x, x), mha.forward(x, x, x))).toBe(0);
  });

  it('uses a replaced projection child', () => {
    const mha = new MultiHeadAttention({ dModel: 8, nHead: 2 });
    const x = tf.randomNormal([1, 3, 8]);
    const before = mha.forward(x, x, x);
    const v = mha.getChild('v_proj') as Linear;
    v.weight.assign(tf.zerosLike(v.weight));
    v.bias!.assign(tf.zerosLike(v.bias!));
    const out = mha.getChild('out_proj') as Linear;
    // with V = 0 the output is the out_proj bias everywhere
    const y = mha.forward(x, x, x);
    expect(maxAbsDiff(y, tf.broadcastTo(out.bias!, [1, 3, 8]))).toBeLessThan(1e-6);
    expect(maxAbsDiff(y, before)).toBeGreaterThan(0);
  });

  it('rejects bad options and inputs with clear messages', () => {
    expect(() => new MultiHeadAttention({ dModel: 10, nHead: 3 })).toThrow(
      /dModel \(10\) is not divisible by nHead \(3\)/,
    );
    expect(() => new MultiHeadAttention({ dModel: 8, nHead: 2, dropout: 2 })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    );
    const mha = new MultiHeadAttention({ dModel: 8, nHead: 2 });
    const x = tf.zeros([2, 3, 8]);
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as { code: string; message: string };
      }
      throw new Error('did not throw');
    };
    let e = err(() => mha.forward(tf.zeros([2, 3, 7]), x, x));
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.message).toContain('[B, T1, 8], got [2, 3, 7]');
    e = err(() => mha.forward(x, tf.zeros([3, 8]), x));
    expect(e.message).toContain('key must have shape [B, T2, 8], got [3, 8]');
    e = err(() => mha.forward(x, x, tf.zeros([2, 4, 8])));
    expect(e.message).toContain('value [2, 4, 8]');
    e = err(() => mha.forward(x, x, x, { keyPaddingMask: tf.zeros([2, 4], 'bool') }));
    expect(e.message).toContain('keyPaddingMask must have shape [2, 3] ([B, T2]), got [2, 4]');
    e = err(() => mha.forward(x, x, x, { attnMask: tf.zeros([3, 3], 'bool') }));
    expect(e.message).toContain('attnMask must be an additive float32 mask');
  });
});
