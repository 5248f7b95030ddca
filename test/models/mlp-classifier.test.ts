import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { getRegisteredAdapter } from '../../src/adapters/class-registry.js';
import { saveModel } from '../../src/io/model-checkpoint.js';
import {
  MlpBlock,
  MlpBlockAdapter,
  MlpBody,
  MlpBodyAdapter,
  MlpClassifier,
  type MlpClassifierConfig,
} from '../../src/models/mlp-classifier.js';
import { restoreModelFromCheckpoint } from '../../src/models/registry.js';
import { createRng, manualSeed } from '../../src/rng.js';
import { thrown } from '../helpers.js';
import { perturbAdapters, run, trainablePaths } from './helpers.js';

const base: MlpClassifierConfig = { inFeatures: 6, hidden: [8, 8, 8], numClasses: 3 };

function build(over: Partial<MlpClassifierConfig> = {}, seed = 1): MlpClassifier {
  manualSeed(seed);
  return new MlpClassifier({ ...base, ...over });
}

function features(b = 5, d = 6): tf.Tensor {
  const rng = createRng(11);
  return tf.tensor2d(
    Float32Array.from({ length: b * d }, () => rng.next() * 2 - 1),
    [b, d],
  );
}

const body = (m: MlpClassifier) => m.getChild('body') as MlpBodyAdapter;

describe('MlpClassifier', () => {
  it('maps features [B, inFeatures] to logits [B, numClasses]', () => {
    const m = build();
    const x = features();
    expect(run(() => m.forward(x)).length).toBe(15);
    tf.tidy(() => {
      expect(m.forward(x).shape).toEqual([5, 3]);
    });
    expect(m.cfg).toMatchObject({ model: 'mlp-classifier', activation: 'gelu' });
    expect([...m.stateDict().keys()]).toEqual([
      'body.layers.0.fc.weight',
      'body.layers.0.fc.bias',
      'body.layers.1.fc.weight',
      'body.layers.1.fc.bias',
      'body.layers.2.fc.weight',
      'body.layers.2.fc.bias',
      'classifier.weight',
      'classifier.bias',
    ]);
    expect(m.defaultLoraTargets).toEqual(['fc']);
    expect(m.outputLayerPath).toBe('classifier');
    const before = tf.memory().numTensors;
    run(() => m.forward(x));
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    m.dispose();
  });

  it('registers its adapter classes and upgrades body and blocks in place', () => {
    expect(getRegisteredAdapter(MlpBlock)?.adapterClass).toBe(MlpBlockAdapter);
    expect(getRegisteredAdapter(MlpBody)?.adapterClass).toBe(MlpBodyAdapter);
    expect(MlpBlockAdapter.typeName).toBe('MlpBlockAdapter');
    expect(MlpBodyAdapter.typeName).toBe('MlpBodyAdapter');
    const m = build();
    expect(body(m)).toBeInstanceOf(MlpBodyAdapter);
    for (const blk of body(m).blocks()) expect(blk).toBeInstanceOf(MlpBlockAdapter);
    m.dispose();
  });

  it('is a linear classifier with no hidden layer, and validates its config', () => {
    const m = build({ hidden: [] });
    const x = features();
    expect(run(() => m.forward(x)).length).toBe(15);
    expect([...m.stateDict().keys()]).toEqual(['classifier.weight', 'classifier.bias']);
    const e = thrown(() => m.addAdapter('a', { type: 'linear', inFeatures: 6, dim: 2 }));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toMatch(/no hidden layer/);
    expect(m.adapterNames()).toEqual([]);
    m.dispose();
    x.dispose();
    expect(thrown(() => build({ activation: 'tanh' })).message).toMatch(/tanh.*identity.*gelu/);
    expect(thrown(() => build({ hidden: [8, 0] })).message).toMatch(
      /hidden must be an array of integers ≥ 1, got \[8,0\]/,
    );
    expect(thrown(() => build({ dropout: 2 })).message).toMatch(/dropout/);
    expect(thrown(() => build({ inFeatures: 0 })).message).toMatch(/inFeatures/);
    const m2 = build();
    const bad = thrown(() => m2.forward(tf.zeros([2, 5])));
    expect(bad.code).toBe('INVALID_INPUT');
    expect(bad.message).toMatch(/\[batch, 6\].*\[2, 5\]/);
    m2.dispose();
  });

  for (const name of ['a', 'body:a']) {
    it(`routes adapter '${name}' to every hidden block, after the activation`, () => {
      const m = build();
      const x = features();
      const before = run(() => m.forward(x));
      m.addAdapter(name, { type: 'linear', inFeatures: 123, dim: 2 });
      const blocks = body(m).blocks() as unknown as MlpBlockAdapter[];
      for (const blk of blocks) expect(blk.heldAdapterNames()).toEqual(['a']);
      expect(Array.from(run(() => m.forward(x)))).toEqual(Array.from(before));
      perturbAdapters(m);
      const moved = run(() => m.forward(x));
      expect(Math.max(...moved.map((v, i) => Math.abs(v - before[i]!)))).toBeGreaterThan(1e-4);
      // The adapter runs on the activation's output: block(x) = act(fc(x)) + adapter(act(fc(x))).
      const blk = blocks[0]!;
      const direct = run(() => blk.forward(x));
      const byHand = run(() => {
        const h = tf.tidy(() => {
          const z = blk.getChild('fc')!.forward(x) as tf.Tensor;
          return tf.mul(tf.mul(z, 0.5), tf.add(1, tf.erf(tf.mul(z, Math.SQRT1_2))));
        });
        return tf.add(h, blk.getAdapterModule('a')!.forward(h) as tf.Tensor);
      });
      for (let i = 0; i < direct.length; i++) expect(direct[i]!).toBeCloseTo(byHand[i]!, 5);
      m.setEnabledAdapters('a', false);
      expect(Array.from(run(() => m.forward(x)))).toEqual(Array.from(before));
      x.dispose();
      m.dispose();
    });
  }

  it('refuses adapters when hidden widths differ, naming them, and leaves no trace', () => {
    const m = build({ hidden: [8, 4] });
    const n0 = m.numParameters();
    const e = thrown(() => m.addAdapter('a', { type: 'linear', inFeatures: 8, dim: 2 }));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toMatch(/same width, got hidden \[8, 4\]/);
    expect(m.numParameters()).toBe(n0);
    expect(m.adapterNames()).toEqual([]);
    expect(body(m).isAdapterAvailable()).toBe(false);
    m.dispose();
  });

  it('freeze + unfreezeEnabledAdapters leaves only adapter parameters trainable', () => {
    const m = build();
    m.addAdapter('a', { type: 'linear', inFeatures: 8, dim: 2 });
    m.freeze();
    m.unfreezeEnabledAdapters();
    const paths = trainablePaths(m);
    expect(paths).toHaveLength(3 * 4);
    expect(paths.every((p) => /^body\.layers\.\d\.adapter_layer\.a\./.test(p))).toBe(true);
    m.dispose();
  });

  it('applies dropout in training only', () => {
    const m = build({ dropout: 0.5 });
    const x = features();
    const a = run(() => m.forward(x));
    const b = run(() => m.forward(x));
    expect(Array.from(a)).not.toEqual(Array.from(b));
    m.eval();
    expect(Array.from(run(() => m.forward(x)))).toEqual(Array.from(run(() => m.forward(x))));
    x.dispose();
    m.dispose();
  });

  it('round-trips through saveModel / restoreModelFromCheckpoint bitwise, adapters included', () => {
    const m = build({ activation: 'relu' });
    m.addAdapter('body:a', { type: 'linear', inFeatures: 8, dim: 2 });
    perturbAdapters(m);
    m.eval();
    const x = features();
    const out = run(() => m.forward(x));
    const r = restoreModelFromCheckpoint(saveModel(m)) as MlpClassifier;
    expect(r).toBeInstanceOf(MlpClassifier);
    expect(r.adapterNames()).toEqual(['a']);
    expect(r.cfg.activation).toBe('relu');
    expect(Array.from(run(() => r.forward(x)))).toEqual(Array.from(out));
    x.dispose();
    m.dispose();
    r.dispose();
  });
});
