import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { restoreModel, saveModel } from '../../src/io/model-checkpoint.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { Linear } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import { thrown } from '../helpers.js';

interface TinyConfig {
  inFeatures: number;
}

/** A model that carries its config: one Linear and a persistent step counter. */
class Tiny extends Module {
  static override readonly typeName: string = 'Tiny';
  readonly fc: Linear;
  constructor(readonly cfg: TinyConfig) {
    super();
    this.fc = this.registerModule('fc', new Linear({ inFeatures: cfg.inFeatures, outFeatures: 2 }));
    this.registerBuffer('steps', tf.scalar(7, 'int32'));
  }
}

describe('whole-model checkpoints', () => {
  it('saveModel writes the config as JSON and every parameter and buffer; restoreModel rebuilds an equal model', () => {
    const model = new Tiny({ inFeatures: 3 });
    const ckpt = saveModel(model);
    expect(JSON.parse(ckpt.config)).toEqual({ inFeatures: 3 });
    expect([...parseSafetensors(ckpt.weights).tensors.keys()].sort()).toEqual([
      'fc.bias',
      'fc.weight',
      'steps',
    ]);
    const before = tf.memory().numTensors;
    const again = restoreModel((cfg: TinyConfig) => new Tiny(cfg), ckpt);
    // Only the new model's own tensors remain: the loaded copies were disposed.
    expect(tf.memory().numTensors).toBe(before + 3);
    expect(again.cfg).toEqual({ inFeatures: 3 });
    expect(Array.from(again.fc.weight.dataSync())).toEqual(Array.from(model.fc.weight.dataSync()));
    expect(Array.from(again.fc.bias!.dataSync())).toEqual(Array.from(model.fc.bias!.dataSync()));
    model.dispose();
    again.dispose();
  });

  it('bad config JSON or a non-object config is CHECKPOINT_FORMAT; a state dict that does not fit disposes the new model', () => {
    const model = new Tiny({ inFeatures: 3 });
    const { weights } = saveModel(model);
    const notJson = thrown(() => restoreModel((cfg: TinyConfig) => new Tiny(cfg), { config: '{', weights }));
    expect([notJson.code, notJson.message]).toEqual([
      'CHECKPOINT_FORMAT',
      'model checkpoint: config is not valid JSON',
    ]);
    const notObject = thrown(() =>
      restoreModel((cfg: TinyConfig) => new Tiny(cfg), { config: '[1]', weights }),
    );
    expect(notObject.code).toBe('CHECKPOINT_FORMAT');
    expect(notObject.message).toContain('JSON object');
    const before = tf.memory().numTensors;
    const mismatch = thrown(() =>
      restoreModel((cfg: TinyConfig) => new Tiny(cfg), { config: '{"inFeatures": 4}', weights }),
    );
    expect(mismatch.code).toBe('STATE_DICT_MISMATCH');
    expect(mismatch.message).toContain('fc.weight');
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
