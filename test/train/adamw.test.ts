import { describe, expect, it } from 'vitest';
import { tf, type Tensor, type Variable } from '../../src/backend/tf.js';
import { AdapterError } from '../../src/errors.js';
import { toVariable } from '../../src/nn/module.js';
import { AdamW, noDecayBiasAndNorm } from '../../src/train/adamw.js';

const v = (values: number[], shape = [values.length]) => toVariable(tf.tensor(values, shape, 'float32'));
const data = (t: Tensor) => Array.from(t.dataSync());

/** PyTorch 1.13 `_single_tensor_adamw` for one element, in float64. */
function reference(p0: number, grads: number[], lr: number, b1: number, b2: number, eps: number, wd: number) {
  let p = p0;
  let m = 0;
  let s = 0;
  grads.forEach((g, i) => {
    const t = i + 1;
    p *= 1 - lr * wd;
    m = b1 * m + (1 - b1) * g;
    s = b2 * s + (1 - b2) * g * g;
    const denom = Math.sqrt(s) / Math.sqrt(1 - b2 ** t) + eps;
    p -= (lr / (1 - b1 ** t)) * (m / denom);
  });
  return { p, m, v: s };
}

describe('AdamW', () => {
  it('matches a hand-computed torch.optim.AdamW trajectory (3 steps)', () => {
    const w = v([0.5, -1.25, 2, 0.1]);
    const opt = new AdamW([['w', w]], { lr: 0.05, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 });
    const grads = [
      [0.3, -0.2, 1e-7, 0],
      [-0.1, 0.4, 1e-7, 0],
      [0.25, -0.05, 1e-7, 0],
    ];
    for (const row of grads) {
      const g = tf.tensor1d(row);
      opt.step({ [w.name]: g });
      g.dispose();
    }
    const got = data(w);
    const state = opt.getState().params.w!;
    for (let i = 0; i < 4; i++) {
      const ref = reference(
        [0.5, -1.25, 2, 0.1][i]!,
        grads.map((r) => r[i]!),
        0.05,
        0.9,
        0.999,
        1e-8,
        0.01,
      );
      expect(Math.abs(got[i]! - ref.p)).toBeLessThan(1e-6);
      expect(Math.abs(state.expAvg[i]! - ref.m)).toBeLessThan(1e-7);
      expect(Math.abs(state.expAvgSq[i]! - ref.v) / Math.max(ref.v, 1e-30)).toBeLessThan(1e-4);
    }
    expect(state.step).toBe(3);
    opt.dispose();
    w.dispose();
  });

  it('adds eps after the bias correction (a gradient near eps moves the parameter by about lr)', () => {
    // With g = 1e-8 at step 1: torch gives mHat/(sqrt(vHat)+eps) = g/(|g|+eps) = 0.5; tf.train.adam's placement
    // (eps added to sqrt(v) before correcting) would give about 0.03.
    const w = v([0]);
    const opt = new AdamW([['w', w]], { lr: 1, weightDecay: 0 });
    const g = tf.tensor1d([1e-8]);
    opt.step(new Map([['w', g]]));
    expect(data(w)[0]).toBeCloseTo(-0.5, 5);
    tf.dispose([g, w]);
    opt.dispose();
  });

  it('a zero gradient moves a parameter only by the decoupled weight decay', () => {
    const w = v([2]);
    const opt = new AdamW([['w', w]], { lr: 0.1, weightDecay: 0.5 });
    const g = tf.tensor1d([0]);
    opt.step(new Map([[w, g]]));
    expect(data(w)[0]).toBeCloseTo(2 * (1 - 0.05), 6);
    tf.dispose([g, w]);
    opt.dispose();
  });

  it('skips parameters without a gradient (no decay, no step) and noDecay excludes parameters from decay', () => {
    const a = v([1, 1]);
    const b = v([1]);
    const c = v([3]);
    const opt = new AdamW(
      [
        ['layer.weight', a],
        ['layer.bias', b],
        ['other', c],
      ],
      { lr: 0.1, weightDecay: 0.5, noDecay: noDecayBiasAndNorm },
    );
    expect(opt.weightDecayOf('layer.bias')).toBe(0);
    expect(opt.weightDecayOf('layer.weight')).toBe(0); // rank 1 → excluded by this rule
    const g = tf.tensor1d([0]);
    opt.step(new Map([['layer.bias', g]]));
    expect(data(b)[0]).toBe(1); // zero grad, no decay: unchanged
    expect(data(c)[0]).toBe(3); // no gradient at all: untouched
    const st = opt.getState().params;
    expect(st['layer.bias']!.step).toBe(1);
    expect(st['other']!.step).toBe(0);
    tf.dispose([a, b, c, g]);
    opt.dispose();
  });

  it('parameter groups override the weight decay', () => {
    const a = v([1]);
    const b = v([1]);
    const opt = new AdamW([{ params: [['a', a]] }, { params: [['b', b]], weightDecay: 0 }], {
      lr: 0.1,
      weightDecay: 0.5,
    });
    expect(opt.weightDecayOf('a')).toBe(0.5);
    expect(opt.weightDecayOf('b')).toBe(0);
    tf.dispose([a, b]);
    opt.dispose();
  });

  it('getState/setState round-trip reproduces the next step exactly', () => {
    const mk = () => v([0.3, -0.7, 1.1], [3]);
    const w1 = mk();
    const o1 = new AdamW([['w', w1]], { lr: 0.01, amsgrad: true });
    const grads = [
      [0.1, 0.2, -0.3],
      [0.5, -0.1, 0.05],
      [-0.2, 0.3, 0.1],
    ];
    const step = (o: AdamW, row: number[]) => {
      const g = tf.tensor1d(row);
      o.step(new Map([['w', g]]));
      g.dispose();
    };
    step(o1, grads[0]!);
    step(o1, grads[1]!);
    const saved = o1.getState();
    const w2 = mk();
    w2.assign(w1);
    const o2 = new AdamW([['w', w2]], { lr: 0.01, amsgrad: true });
    o2.setState(saved);
    step(o1, grads[2]!);
    step(o2, grads[2]!);
    expect(data(w2)).toEqual(data(w1));
    expect(o2.getState().params.w!.step).toBe(3);
    tf.dispose([w1, w2]);
    o1.dispose();
    o2.dispose();
  });

  it('setState rejects missing or mis-sized state', () => {
    const w = v([1, 2]);
    const o = new AdamW([['w', w]]);
    const err = (() => {
      try {
        o.setState({
          params: { w: { step: 1, expAvg: new Float32Array(3), expAvgSq: new Float32Array(2) } },
        });
      } catch (e) {
        return e as AdapterError;
      }
    })();
    expect(err?.code).toBe('STATE_DICT_MISMATCH');
    expect(err?.message).toContain('expAvg has 3 elements');
    expect(() => o.setState({ params: {} })).toThrow(/missing parameters: w/);
    tf.dispose(w);
    o.dispose();
  });

  it('rejects gradients for unknown parameters and wrong shapes', () => {
    const w = v([1, 2]);
    const o = new AdamW([['w', w]]);
    const g = tf.tensor1d([1, 2, 3]);
    expect(() => o.step(new Map([['nope', g]]))).toThrow(/does not hold: nope/);
    expect(() => o.step(new Map([['w', g]]))).toThrow(/has shape \[3\]/);
    tf.dispose([w, g]);
    o.dispose();
  });

  it('keeps the tensor count flat across steps', () => {
    const w = v([1, 2, 3, 4], [2, 2]) as Variable;
    const o = new AdamW([['w', w]], { lr: 0.01 });
    const g = tf.ones([2, 2]);
    o.step(new Map([['w', g]]));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) o.step(new Map([['w', g]]));
    expect(tf.memory().numTensors).toBe(before);
    o.dispose();
    tf.dispose([w, g]);
  });
});
