/**
 * makeAdapterModel: any Module class becomes an adapter model in one step (a small custom classifier
 * host: add, train a step, save, load into a fresh instance, same outputs).
 */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../src/backend/tf.js';
import '../../src/adapters/builtins.js';
import { registerAdapter } from '../../src/adapters/class-registry.js';
import { withAdapters } from '../../src/adapters/host.js';
import type { AdapterModelConfig } from '../../src/adapters/model.js';
import { makeAdapterModel } from '../../src/io/make-adapter-model.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { Linear } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import { createRng, setRng } from '../../src/rng.js';
import * as root from '../../src/index.js';
import { thrown, values } from '../helpers.js';

const seed = () => setRng(createRng(7));

/** A hidden block: `relu(fc(x))`; adapters run after the activation once the class is upgraded. */
class ClassifierBlock extends Module {
  static override readonly typeName: string = 'ClassifierBlock';
  constructor(readonly width: number) {
    super();
    this.registerModule('fc', new Linear({ inFeatures: width, outFeatures: width }));
  }
  override forward(x: Tensor): Tensor {
    return tf.tidy(() => tf.relu(this.getChild('fc')!.forward(x) as Tensor));
  }
}
class ClassifierBlockWithAdapters extends withAdapters(ClassifierBlock) {
  static override readonly typeName: string = 'ClassifierBlockWithAdapters';
  override forward(x: Tensor): Tensor {
    return tf.tidy(() => this.forwardEnabledAdapters(super.forward(x)));
  }
}
registerAdapter(ClassifierBlock, ClassifierBlockWithAdapters);

/** The user's model, written with no adapter code at all. */
class TinyClassifier extends Module {
  static override readonly typeName: string = 'TinyClassifier';
  constructor(readonly numClasses = 3) {
    super();
    this.registerModule('encoder', new ClassifierBlock(8));
    this.registerModule('head', new Linear({ inFeatures: 8, outFeatures: numClasses }));
  }
  override forward(x: Tensor): Tensor {
    return tf.tidy(() => this.getChild('head')!.forward(this.getChild('encoder')!.forward(x)) as Tensor);
  }
}

const AdaptableClassifier = makeAdapterModel(TinyClassifier, {
  moduleNames: ['encoder'],
  defaultModuleName: 'encoder',
});

function trainOneStep(model: InstanceType<typeof AdaptableClassifier>, x: Tensor, labels: Tensor): void {
  const params = model.trainableParameters();
  const opt = tf.train.sgd(0.5);
  opt.minimize(() => tf.losses.softmaxCrossEntropy(labels, model.forward(x)) as tf.Scalar, false, params);
  opt.dispose();
}

describe('makeAdapterModel', () => {
  it('a custom classifier: add, train a step, save, load into a fresh instance, same outputs', () => {
    seed();
    const model = new AdaptableClassifier();
    expect(model).toBeInstanceOf(TinyClassifier);
    expect(model.numClasses).toBe(3); // the base class's own members and constructor arguments stay
    model.addAdapter('task', { type: 'linear', inFeatures: 8, dim: 4 });
    expect(model.getEnabledAdapters()).toEqual(['task']);
    expect(model.cfg.adapters!.globalCfg!.adapterMetaCfg!.modules).toEqual({ task: '' });

    model.freeze();
    model.unfreezeEnabledAdapters();
    expect(model.trainableParameters().length).toBeGreaterThan(0);
    const x = tf.randomNormal([4, 8], 0, 1, 'float32', 3);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3);
    const before = values(model.forward(x));
    trainOneStep(model, x, labels);
    const after = values(model.forward(x));
    expect(after).not.toEqual(before); // the adapter learned something, so the load below is observable

    const start = tf.memory().numTensors;
    const bytes = model.saveAdapters('task');
    expect(tf.memory().numTensors).toBe(start);
    expect([...parseSafetensors(bytes).tensors.keys()].every((k) => k.startsWith('task/0/task.'))).toBe(true);

    seed(); // the same base weights
    const fresh = new AdaptableClassifier();
    expect(values(fresh.forward(x))).toEqual(before); // same base; a new linear adapter starts as identity
    expect(fresh.loadAdapters(bytes)).toEqual({ loaded: ['task'], missingKeys: [], unexpectedKeys: [] });
    expect(values(fresh.forward(x))).toEqual(after);
  });

  it('a base class with its own cfg keeps it; the adapters recorded there are rebuilt on construction', () => {
    class ConfiguredClassifier extends Module {
      readonly cfg: AdapterModelConfig & { width: number };
      constructor(cfg: { width: number; adapters?: AdapterModelConfig['adapters'] }) {
        super();
        this.cfg = structuredClone(cfg);
        this.registerModule('encoder', new ClassifierBlock(cfg.width));
      }
      override forward(x: Tensor): Tensor {
        return this.getChild('encoder')!.forward(x) as Tensor;
      }
    }
    const Adaptable = makeAdapterModel(ConfiguredClassifier, { moduleNames: ['encoder'] });
    seed();
    const model = new Adaptable({ width: 6 });
    model.addAdapter('encoder:a', { type: 'linear', inFeatures: 6, dim: 2 });
    model.addAdapter('encoder:b', { type: 'linear', inFeatures: 6, dim: 2 });
    model.setEnabledAdapters('b', false);
    expect(model.cfg.width).toBe(6);
    const rebuilt = new Adaptable(structuredClone(model.cfg));
    expect(rebuilt.getEnabledAdapters()).toEqual(['a']);
    expect(rebuilt.cfg.adapters!.globalCfg!.adapterMetaCfg!.order).toEqual(['a', 'b']);
  });

  it('names: no default module means names need module:, and the package entry exports the helper', () => {
    const Adaptable = makeAdapterModel(TinyClassifier, { moduleNames: ['encoder'] });
    const model = new Adaptable();
    expect(thrown(() => model.addAdapter('task', { type: 'linear', inFeatures: 8, dim: 2 })).code).toBe(
      'NO_DEFAULT_MODULE',
    );
    const err = thrown(() => model.addAdapter('head:task', { type: 'linear', inFeatures: 8, dim: 2 }));
    expect(err.code).toBe('INVALID_MODULE_NAME');
    expect(err.message).toContain("'encoder'");
    model.addAdapter('encoder:task', { type: 'linear', inFeatures: 8, dim: 2 });
    expect(model.getEnabledAdapters()).toEqual(['task']);
    expect(root.makeAdapterModel).toBe(makeAdapterModel);
  });

  it('bad options and listed modules the model lacks are errors naming them', () => {
    const noNames = thrown(() => makeAdapterModel(TinyClassifier, { moduleNames: [] }));
    expect(noNames.code).toBe('INVALID_CONFIG');
    expect(noNames.message).toContain('moduleNames');
    const badDefault = thrown(() =>
      makeAdapterModel(TinyClassifier, { moduleNames: ['encoder'], defaultModuleName: 'decoder' }),
    );
    expect(badDefault.code).toBe('INVALID_CONFIG');
    expect(badDefault.message).toContain('"decoder" is not one of moduleNames: encoder');
    const Missing = makeAdapterModel(TinyClassifier, { moduleNames: ['encoder', 'decoder'] });
    const missing = thrown(() => new Missing());
    expect(missing.code).toBe('MISSING_SUBMODULE');
    expect(missing.message).toContain("'decoder'");
    expect(missing.message).toContain('encoder.fc');
  });
});
