import { afterEach, describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { VeraLinear } from '../../../src/adapters/vera/layer.js';
import { VeraProjectionPair } from '../../../src/adapters/vera/projection.js';
import { Linear } from '../../../src/nn/layers.js';
import { expectClose, thrown, values } from '../../helpers.js';
import { makeInput, randomize, seed } from '../../fixtures/lora-models.js';

const owned: Array<{ dispose(): void }> = [];
afterEach(() => {
  for (const o of owned.splice(0)) o.dispose();
});

/** A VeRA layer on a seeded `Linear(inF → outF)` with projections of `[r, maxIn]` / `[maxOut, r]`. */
function makeLayer(o: {
  inF: number;
  outF: number;
  r: number;
  maxIn?: number;
  maxOut?: number;
  key?: number;
}) {
  seed(3);
  const base = new Linear({ inFeatures: o.inF, outFeatures: o.outF });
  const pair = VeraProjectionPair.generate({
    key: o.key ?? 0,
    r: o.r,
    maxIn: o.maxIn ?? o.inF,
    maxOut: o.maxOut ?? o.outF,
    saveProjection: true,
  });
  const layer = new VeraLinear({ base });
  layer.updateLayer('a', { r: o.r, projections: pair });
  owned.push(layer, pair);
  return { layer, pair, base };
}

/** `base(x) + λ_b ⊙ ((λ_d ⊙ (x·A_sᵀ))·B_sᵀ)`, computed from plain arrays. */
function direct(layer: VeraLinear, pair: VeraProjectionPair, x: Tensor, r: number): Tensor {
  return tf.tidy(() => {
    const a = tf.slice(pair.a, [0, 0], [r, layer.inFeatures]);
    const b = tf.slice(pair.b, [0, 0], [layer.outFeatures, r]);
    const base = tf.add(tf.matMul(x, layer.weight, false, true), layer.bias!);
    const h = tf.mul(tf.matMul(x, a, false, true), layer.vera_lambda_d.get('a')!);
    return tf.add(base, tf.mul(tf.matMul(h, b, false, true), layer.vera_lambda_b.get('a')!));
  });
}

/** A Linear stored `[in, out]` and applied as `x·W + b` (GPT-2's Conv1D), square so its bias fits. */
class Conv1D extends Linear {
  static override readonly typeName: string = 'Conv1D';
  override forward(x: Tensor): Tensor {
    return tf.tidy(() => tf.add(tf.matMul(x, this.weight), this.bias!));
  }
}

describe('VeraLinear', () => {
  it('B-341 at init the output equals the base exactly; λ_d = dInitial, λ_b = 0; the λ vectors are the only new parameters', () => {
    const { layer, base } = makeLayer({ inF: 6, outF: 5, r: 4 });
    const x = makeInput(3, 6);
    owned.push(x);
    const y = layer.forward(x);
    const yb = base.forward(x);
    expect(Array.from(y.dataSync())).toEqual(Array.from(yb.dataSync()));
    y.dispose();
    yb.dispose();
    expect(values(layer.vera_lambda_d.get('a')!)).toEqual(Array(4).fill(Math.fround(0.1)));
    expect(values(layer.vera_lambda_b.get('a')!)).toEqual(Array(5).fill(0));
    expect(layer.adapterParameters('a').map((t) => [t.key, t.peftKey, t.param.shape])).toEqual([
      ['vera_lambda_b.a', 'vera_lambda_b', [5]],
      ['vera_lambda_d.a', 'vera_lambda_d', [4]],
    ]);
    expect(layer.stateDict().has('vera_lambda_b.a')).toBe(true);
    expect([...layer.stateDict().keys()].some((k) => k.includes('vera_A'))).toBe(false);
  });

  it('forward matches a direct computation of the formula', () => {
    const { layer, pair } = makeLayer({ inF: 6, outF: 5, r: 4 });
    randomize(layer.vera_lambda_b.get('a')!, 1);
    randomize(layer.vera_lambda_d.get('a')!, 2);
    const x = makeInput(3, 6);
    const y = layer.forward(x);
    const want = direct(layer, pair, x, 4);
    expectClose(y, want, 1e-5);
    owned.push(x, y, want);
  });

  it('initWeights: false draws λ_d from N(0, 1) and sets λ_b to ones (as PEFT)', () => {
    const { layer, pair } = makeLayer({ inF: 4, outF: 4, r: 3 });
    layer.updateLayer('b', { r: 3, projections: pair, initWeights: false });
    expect(values(layer.vera_lambda_b.get('b')!)).toEqual([1, 1, 1, 1]);
    expect(values(layer.vera_lambda_d.get('b')!).some((v) => v !== 0.1 && v !== 0)).toBe(true);
  });

  it('B-343 merge then unmerge: merged outputs equal unmerged within 1e-5; unmerge restores W (also stored [in, out])', () => {
    for (const fanInFanOut of [false, true]) {
      seed(4);
      const base = fanInFanOut
        ? new Conv1D({ inFeatures: 5, outFeatures: 5 })
        : new Linear({ inFeatures: 5, outFeatures: 5 });
      const pair = VeraProjectionPair.generate({ key: 5, r: 4, maxIn: 5, maxOut: 5, saveProjection: true });
      const layer = new VeraLinear({ base, fanInFanOut });
      layer.updateLayer('a', { r: 4, projections: pair });
      owned.push(layer, pair);
      randomize(layer.vera_lambda_b.get('a')!, 1);
      randomize(layer.vera_lambda_d.get('a')!, 2);
      const w0 = tf.clone(layer.weight);
      const x = makeInput(3, 5);
      const unmerged = layer.forward(x);
      layer.mergeAdapter('a', true);
      expect(layer.mergedAdapters).toEqual(['a']);
      const merged = layer.forward(x); // the branch is skipped: only the merged weight acts
      expectClose(merged, unmerged, 1e-5);
      layer.unmergeAdapter('a');
      expect(layer.mergedAdapters).toEqual([]);
      const maxW = Math.max(1, ...values(w0).map(Math.abs));
      expectClose(layer.weight, w0, 1e-5 * maxW);
      owned.push(w0, x, unmerged, merged);
    }
  });

  it('B-345 a layer smaller than the projections uses A[:, :in] and B[:out, :]; r larger than the layer is valid', () => {
    // r = 12 exceeds both sizes of this 3 → 2 layer: VeRA's rank is not bounded by the layer.
    const { layer, pair } = makeLayer({ inF: 3, outF: 2, r: 12, maxIn: 7, maxOut: 9 });
    randomize(layer.vera_lambda_b.get('a')!, 1);
    randomize(layer.vera_lambda_d.get('a')!, 2);
    const x = makeInput(4, 3);
    const y = layer.forward(x);
    expect(y.shape).toEqual([4, 2]);
    const want = direct(layer, pair, x, 12);
    expectClose(y, want, 1e-5);
    const delta = layer.deltaWeight('a');
    expect(delta.shape).toEqual([2, 3]);
    owned.push(x, y, want, delta);
  });

  it('projections smaller than the layer → INVALID_CONFIG naming both shapes; a held name → DUPLICATE_ADAPTER', () => {
    const { layer, pair } = makeLayer({ inF: 4, outF: 4, r: 2 });
    const small = VeraProjectionPair.generate({ key: 0, r: 2, maxIn: 3, maxOut: 4, saveProjection: true });
    owned.push(small);
    const e = thrown(() => layer.updateLayer('b', { r: 2, projections: small }));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain('[2, 4]');
    expect(e.message).toContain('[2, 3]');
    const r = thrown(() => layer.updateLayer('b', { r: 5, projections: pair }));
    expect(r.code).toBe('INVALID_CONFIG');
    expect(thrown(() => layer.updateLayer('a', { r: 2, projections: pair })).code).toBe('DUPLICATE_ADAPTER');
    expect(layer.heldAdapters()).toEqual(['a']);
  });

  it('removeAdapter frees its vectors and leaves the shared projections alone', () => {
    const { layer, pair } = makeLayer({ inF: 4, outF: 4, r: 2 });
    const before = tf.memory().numTensors;
    layer.removeAdapter('a');
    expect(tf.memory().numTensors).toBe(before - 2);
    expect(layer.heldAdapters()).toEqual([]);
    expect(pair.a.isDisposed).toBe(false);
  });
});
