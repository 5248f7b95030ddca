import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import '../../src/index.js';
import { CharLM } from '../../src/models/char-lm.js';
import { manualSeed } from '../../src/rng.js';
import { AdamW } from '../../src/train/adamw.js';
import { crossEntropy } from '../../src/train/losses.js';

describe('training a LinearAdapter on a frozen model', () => {
  it('the loss falls, frozen weights stay bit-identical, disabling restores the base outputs, tensors stay flat', () => {
    manualSeed(3);
    const model = new CharLM({ vocabSize: 12, dModel: 16, numLayers: 2, nHead: 2, dFF: 32, maxLen: 16 });
    const ids = tf.randomUniform([4, 16], 0, 12, 'int32', 5);
    const targets = tf.randomUniform([4, 16], 0, 12, 'int32', 6);
    model.eval();
    const baseOut = model.forward(ids);
    const frozenBefore = new Map(
      model.namedParameters().map(([k, v]) => [k, Float32Array.from(v.dataSync())]),
    );

    model.addAdapter('task', { type: 'linear', inFeatures: 16, dim: 8 });
    model.freeze();
    model.unfreezeEnabledAdapters();
    model.train();
    const trainable = model.namedParameters().filter(([, v]) => v.trainable);
    expect(trainable.length).toBeGreaterThan(0);
    expect(trainable.every(([k]) => k.includes('adapter_layer.task'))).toBe(true);
    const opt = new AdamW(trainable, { lr: 1e-2, weightDecay: 0 });
    const vars = trainable.map(([, v]) => v);

    const losses: number[] = [];
    const counts: number[] = [];
    for (let step = 0; step < 300; step++) {
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => crossEntropy(model.forward(ids), targets), vars);
        opt.step(grads);
        losses.push(value.dataSync()[0]!);
      });
      counts.push(tf.memory().numTensors);
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.8);
    expect(new Set(counts.slice(5)).size).toBe(1); // flat after the optimizer state exists

    for (const [k, v] of model.namedParameters()) {
      if (frozenBefore.has(k)) expect(Array.from(v.dataSync())).toEqual(Array.from(frozenBefore.get(k)!));
    }
    model.eval();
    const adapted = model.forward(ids);
    expect(tf.max(tf.abs(tf.sub(adapted, baseOut))).dataSync()[0]).toBeGreaterThan(1e-3);
    model.setEnabledAdapters('task', false);
    expect(Array.from(model.forward(ids).dataSync())).toEqual(Array.from(baseOut.dataSync()));
    opt.dispose();
  });
});
