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

/** The reference with `prefix` keys and values (already projected) in front of the projected ones. */
function referenceWithPrefix(
  mha: MultiHeadAttention,
  x: Tensor,
  pk: Tensor,
  pv: Tensor,
  bias?: Tensor,
): Tensor {
  return tf.tidy(() => {
    const proj = (t: Tensor, name: string) => {
      const lin = mha.getChild(name) as Linear;
      return tf.add(tf.matMul(t, lin.weight, false, true), lin.bias!);
    };
    const [b, t] = x.shape as number[];
    const p = pk.shape[0]!;
    const { nHead: h, headDim: dk, dModel: d } = mha;
    const rows = (u: Tensor) => tf.tile(tf.expandDims(u, 0), [b!, 1, 1]);
    const split = (u: Tensor, n: number) => tf.transpose(tf.reshape(u, [b!, n, h, dk]), [0, 2, 1, 3]);
    const Q = split(proj(x, 'q_proj'), t!);
    const K = split(tf.concat([rows(pk), proj(x, 'k_proj')], 1), p + t!);
    const V = split(tf.concat([rows(pv), proj(x, 'v_proj')], 1), p + t!);
    let s = tf.div(tf.matMul(Q, K, false, true), Math.sqrt(dk));
    if (bias) s = tf.add(s, bias);
    const c = tf.matMul(tf.softmax(s), V);
    const merged = tf.reshape(tf.transpose(c, [0, 2, 1, 3]), [b!, t!, d]);
    const out = mha.getChild('out_proj') as Linear;
    return tf.add(tf.matMul(merged, out.weight, false, true), out.bias!);
  });
}

describe('MultiHeadAttention with a prefix (prefix tuning)', () => {
  it('B-331 matches a direct softmax over [prefix; real] keys and values; prefix scores 1e4 below the real ones give the base output', () => {
    const mha = new MultiHeadAttention({ dModel: 8, nHead: 2, rng: createRng(21) });
    const x = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 4);
    const pk = tf.randomNormal([3, 8], 0, 1, 'float32', 5);
    const pv = tf.randomNormal([3, 8], 0, 1, 'float32', 6);
    const y = mha.forward(x, x, x, { prefix: { k: pk, v: pv } });
    expect(y.shape).toEqual([2, 4, 8]);
    expect(maxAbsDiff(y, referenceWithPrefix(mha, x, pk, pv))).toBeLessThan(1e-5);
    // Under a causal mask the prefix columns stay visible: the reference's mask has P zero columns.
    const causalWithPrefix = tf.concat([tf.zeros([4, 3]), causalMask(4, 4)], 1);
    expect(
      maxAbsDiff(
        mha.forward(x, x, x, { causal: true, prefix: { k: pk, v: pv } }),
        referenceWithPrefix(mha, x, pk, pv, causalWithPrefix),
      ),
    ).toBeLessThan(1e-5);

    // Every query is the same vector u (q_proj weight 0, bias u): a prefix key −α·u scores
    // −α·|u|²/√dk, far below every real score, so the prefix takes no weight.
    const q = mha.getChild('q_proj') as Linear;
    q.weight.assign(tf.zerosLike(q.weight));
    const u = tf.randomNormal([8], 0, 1, 'float32', 7);
    q.bias!.assign(u);
    const perHead = tf.sum(tf.reshape(tf.square(u), [2, 4]), 1).dataSync(); // |u_h|² per head
    const alpha = (2e4 * Math.sqrt(4)) / Math.min(...perHead);
    const far = tf.tile(tf.reshape(tf.mul(u, -alpha), [1, 8]), [3, 1]);
    const base = mha.forward(x, x, x);
    const realScores = tf.tidy(() => {
      const k = (mha.getChild('k_proj') as Linear).forward(x);
      return tf
        .max(tf.abs(tf.div(tf.sum(tf.mul(tf.reshape(k, [2, 4, 2, 4]), tf.reshape(u, [1, 1, 2, 4])), 3), 2)))
        .dataSync()[0]!;
    });
    expect((alpha * Math.min(...perHead)) / 2 - realScores).toBeGreaterThan(1e4);
    expect(maxAbsDiff(mha.forward(x, x, x, { prefix: { k: far, v: pv } }), base)).toBeLessThan(1e-5);
    mha.dispose();
  });

  it('B-333 prefix positions are never masked: padded keys stay masked, a fully padded row attends only to the prefix', () => {
    const mha = new MultiHeadAttention({ dModel: 8, nHead: 2, rng: createRng(22) });
    const x = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 8);
    const pk = tf.randomNormal([2, 8], 0, 1, 'float32', 9);
    const pv = tf.randomNormal([2, 8], 0, 1, 'float32', 10);
    const pad = tf.tensor2d(
      [
        [0, 0, 1, 1],
        [1, 1, 1, 1],
      ],
      [2, 4],
    );
    const y = mha.forward(x, x, x, { keyPaddingMask: pad, prefix: { k: pk, v: pv } });
    const bias = tf.reshape(tf.concat([tf.zeros([2, 2]), tf.mul(pad, -1e9)], 1), [2, 1, 1, 6]);
    expect(maxAbsDiff(y, referenceWithPrefix(mha, x, pk, pv, bias))).toBeLessThan(1e-5);
    // Row 1 is fully padded: its output is the attention over the prefix alone.
    const onlyPrefix = tf.reshape(tf.concat([tf.zeros([1, 2]), tf.fill([1, 4], -1e30)], 1), [1, 1, 1, 6]);
    const row1 = tf.slice(x, [1, 0, 0], [1, 4, 8]);
    expect(
      maxAbsDiff(tf.slice(y, [1, 0, 0], [1, 4, 8]), referenceWithPrefix(mha, row1, pk, pv, onlyPrefix)),
    ).toBeLessThan(1e-5);
    // Changing a padded key changes nothing.
    const first = tf.concat([tf.slice(x, [0, 0, 0], [1, 2, 8]), tf.ones([1, 2, 8])], 1);
    const yFirst = mha.forward(first, first, first, {
      keyPaddingMask: tf.slice(pad, [0, 0], [1, 4]),
      prefix: { k: pk, v: pv },
    });
    expect(
      maxAbsDiff(tf.slice(yFirst, [0, 0, 0], [1, 2, 8]), tf.slice(y, [0, 0, 0], [1, 2, 8])),
    ).toBeLessThan(1e-5);
    mha.dispose();
  });

  it('takes [B, P, D] prefixes, rejects mismatched ones (INVALID_INPUT naming both shapes), and leaks nothing', () => {
    const mha = new MultiHeadAttention({ dModel: 8, nHead: 2, rng: createRng(23) });
    const x = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 11);
    const pk = tf.randomNormal([2, 8], 0, 1, 'float32', 12);
    const pv = tf.randomNormal([2, 8], 0, 1, 'float32', 13);
    const shared = mha.forward(x, x, x, { prefix: { k: pk, v: pv } });
    const perRow = mha.forward(x, x, x, {
      prefix: { k: tf.stack([pk, pk]), v: tf.stack([pv, pv]) },
    });
    expect(maxAbsDiff(shared, perRow)).toBe(0);
    let e: { code?: string; message?: string } = {};
    try {
      mha.forward(x, x, x, { prefix: { k: tf.zeros([2, 6]), v: pv } });
    } catch (err) {
      e = err as typeof e;
    }
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.message).toContain('[2, 6] and [2, 8]');
    const before = tf.memory().numTensors;
    tf.dispose(mha.forward(x, x, x, { causal: true, prefix: { k: pk, v: pv } }));
    expect(tf.memory().numTensors).toBe(before);
    mha.dispose();
  });
});
