/**
 * Cases every set of fused kernels (native, JavaScript) must pass against TensorFlow.js's own
 * kernels: LayerNorm, cross-entropy and AdamW, a few training steps of the bench model's
 * architecture (small), and tensor leaks. Each kernel set's test files call them with a runner that
 * runs a function with the set registered, then with TensorFlow.js's kernels alone.
 */
import { expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { CharLM } from '../../../src/models/char-lm.js';
import { layerNorm } from '../../../src/nn/layers.js';
import { manualSeed } from '../../../src/rng.js';
import { AdamW } from '../../../src/train/adamw.js';
import { crossEntropy, tokenNll } from '../../../src/train/losses.js';
import { maxAbsDiff, values } from './native-harness.js';

/** Runs `f` with the kernels under test (`fused`), then with TensorFlow.js's own (`reference`). */
export type FusedAndReference = <T>(f: () => T) => { fused: T; reference: T };

/** LayerNorm and its gradients over several shapes (edge cases included), and with frozen γ, β. */
export function layerNormCases(run: FusedAndReference): void {
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
    const { fused, reference } = run(() => {
      const y = values(layerNorm(x, g, b));
      const grads = tf.grads((xi: Tensor, gi: Tensor, bi: Tensor) =>
        tf.sum(tf.mul(layerNorm(xi, gi, bi), w)),
      )([x, g, b]);
      return { y, grads: grads.map(values) };
    });
    const tol = shift ? 2e-3 : 1e-4;
    expect(maxAbsDiff(fused.y, reference.y)).toBeLessThan(tol);
    fused.grads.forEach((gr, i) =>
      expect(maxAbsDiff(gr, reference.grads[i]!)).toBeLessThan(shift ? 5e-2 : 2e-4),
    );
    tf.dispose([x, g, b, w]);
  });

  it('LayerNorm with frozen γ and β: the input gradient agrees', () => {
    const x = tf.randomNormal([4, 8], 0, 1, 'float32', 19);
    const g = tf.variable(tf.randomNormal([8], 1, 0.3, 'float32', 20), false);
    const b = tf.variable(tf.zeros([8]), false);
    const { fused, reference } = run(() =>
      values(tf.grad((xi: Tensor) => tf.sum(tf.square(layerNorm(xi, g, b))))(x)),
    );
    expect(maxAbsDiff(fused, reference)).toBeLessThan(1e-4);
    tf.dispose([x, g, b]);
  });
}

/** Cross-entropy and token NLL with masks and ignore_index, one position and extreme logits. */
export function crossEntropyCases(run: FusedAndReference): void {
  it('cross-entropy and token NLL with a mask and ignore_index agree with wasm, gradients included', () => {
    const logits = tf.randomNormal([2, 5, 7], 0, 3, 'float32', 21);
    const targets = tf.tensor2d(
      [
        [1, 6, 0, -100, 3],
        [2, 2, 5, 4, 0],
      ],
      [2, 5],
      'int32',
    );
    const mask = tf.tensor2d(
      [
        [0, 0, 1, 0, 0],
        [0, 0, 0, 0, 1],
      ],
      [2, 5],
      'int32',
    );
    const { fused, reference } = run(() => ({
      nll: values(tokenNll(logits, targets, { mask })),
      loss: values(crossEntropy(logits, targets, { mask })),
      grad: values(tf.grad((l: Tensor) => crossEntropy(l, targets, { mask }))(logits)),
    }));
    expect(maxAbsDiff(fused.nll, reference.nll)).toBeLessThan(1e-5);
    expect(fused.nll[2]).toBe(0);
    expect(fused.nll[3]).toBe(0);
    expect(maxAbsDiff(fused.loss, reference.loss)).toBeLessThan(1e-5);
    expect(maxAbsDiff(fused.grad, reference.grad)).toBeLessThan(1e-6);
    tf.dispose([logits, targets, mask]);
  });

  it('cross-entropy of one position, and of extreme logits, stays finite and agrees', () => {
    const logits = tf.tensor2d(
      [
        [1e4, -1e4, 0],
        [-50, 80, 80],
      ],
      [2, 3],
    );
    const targets = tf.tensor1d([1, 2], 'int32');
    const one = tf.tensor2d([[0.5, -0.5]], [1, 2]);
    const oneT = tf.tensor1d([0], 'int32');
    const { fused, reference } = run(() => [
      values(tokenNll(logits, targets)),
      values(tf.grad((l: Tensor) => crossEntropy(l, targets))(logits)),
      values(crossEntropy(one, oneT)),
    ]);
    fused.forEach((x, i) => {
      expect(x.every(Number.isFinite)).toBe(true);
      expect(maxAbsDiff(x, reference[i]!)).toBeLessThan(1e-2);
    });
    expect(fused[0]![0]).toBeCloseTo(2e4, 0);
    tf.dispose([logits, targets, one, oneT]);
  });
}

/** AdamW updates with weight decay and maximize over several steps. */
export function adamwCase(run: FusedAndReference): void {
  it('AdamW updates agree (weight decay, maximize, several steps)', () => {
    const steps = () => {
      const p = tf.variable(tf.randomNormal([7, 5], 0, 1, 'float32', 10), true, `p${Math.random()}`);
      const opt = new AdamW([['p', p]], { lr: 0.01, weightDecay: 0.1, maximize: true });
      for (let s = 0; s < 4; s++) {
        const g = tf.randomNormal([7, 5], 0, 1, 'float32', 20 + s);
        opt.step({ p: g });
        g.dispose();
      }
      const st = opt.getState().params.p!;
      const out = [Array.from(p.dataSync()), Array.from(st.expAvg), Array.from(st.expAvgSq)];
      opt.dispose();
      p.dispose();
      return out;
    };
    const { fused, reference } = run(steps);
    fused.forEach((x, i) => expect(maxAbsDiff(x, reference[i]!)).toBeLessThan(1e-6));
  });
}

/** Five training steps of a small model of the bench architecture: losses and weights agree. */
export function trainingParityCase(run: FusedAndReference, what: string): void {
  it(`training the bench architecture (small) gives the same losses and weights with and without ${what}`, () => {
    // Tolerance as for the native kernels: sums in another order (and in double) differ by ~1e-6;
    // losses agree to 1e-4 relative; Adam normalises each update (m/√v), so a weight whose gradient
    // is near zero can move by up to lr either way: weights agree to lr/3 at most, 1e-5 for 99 %.
    const train = () => {
      manualSeed(5);
      const model = new CharLM({ vocabSize: 20, dModel: 32, numLayers: 2, nHead: 4, dFF: 64, maxLen: 16 });
      const ids = tf.randomUniform([3, 16], 0, 20, 'int32', 11);
      const targets = tf.randomUniform([3, 16], 0, 20, 'int32', 12);
      const named = model.namedParameters().filter(([, v]) => v.trainable);
      const opt = new AdamW(named, { lr: 3e-3, weightDecay: 0.01 });
      const vars = named.map(([, v]) => v);
      const losses: number[] = [];
      for (let s = 0; s < 5; s++) {
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => crossEntropy(model.forward(ids), targets), vars);
          opt.step(grads);
          losses.push(value.dataSync()[0]!);
        });
      }
      const evalLoss = tf.tidy(() => crossEntropy(model.eval().forward(ids), targets).dataSync()[0]!);
      const weights = vars.map((v) => Array.from(v.dataSync()));
      opt.dispose();
      model.dispose();
      tf.dispose([ids, targets]);
      return { losses, evalLoss, weights };
    };
    const { fused, reference } = run(train);
    expect(fused.losses[4]!).toBeLessThan(fused.losses[0]!);
    fused.losses.forEach((l, i) =>
      expect(Math.abs(l - reference.losses[i]!) / Math.abs(reference.losses[i]!)).toBeLessThan(1e-4),
    );
    expect(Math.abs(fused.evalLoss - reference.evalLoss) / reference.evalLoss).toBeLessThan(1e-4);
    const diffs = fused.weights
      .flatMap((w, i) => w.map((x, j) => Math.abs(x - reference.weights[i]![j]!)))
      .sort((a, b) => a - b);
    expect(diffs.at(-1)!).toBeLessThan(3e-3 / 3);
    expect(diffs[Math.floor(diffs.length * 0.99)]!).toBeLessThan(1e-5);
  });
}

/** A tiny model trained 500 steps leaves the tensor count flat; `afterSteps` checks more. */
export function leakCase(afterSteps?: () => void): void {
  it('no tensor leaks over 500 training steps of a tiny model', () => {
    manualSeed(6);
    const model = new CharLM({ vocabSize: 8, dModel: 8, numLayers: 1, nHead: 2, dFF: 16, maxLen: 4 });
    const ids = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32');
    const targets = tf.tensor2d([[2, 3, 4, 5]], [1, 4], 'int32');
    const named = model.namedParameters().filter(([, v]) => v.trainable);
    const opt = new AdamW(named, { lr: 1e-3 });
    const vars = named.map(([, v]) => v);
    const step = () =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => crossEntropy(model.forward(ids), targets), vars);
        opt.step(grads);
      });
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 500; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    afterSteps?.();
    opt.dispose();
    model.dispose();
    tf.dispose([ids, targets]);
  });
}
