/** Small classifiers for the adapter-owned heads tests (SPEC §5.2). */
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { makeAdapterModel } from '../../../src/io/make-adapter-model.js';
import { MlpBody, MlpClassifier } from '../../../src/models/mlp-classifier.js';
import { Linear } from '../../../src/nn/layers.js';
import { Module } from '../../../src/nn/module.js';
import { manualSeed } from '../../../src/rng.js';

/** Fifty class names: `c0` … `c49`. */
export const LABELS_50 = Array.from({ length: 50 }, (_, i) => `c${i}`);

/** A 50-class MLP classifier (6 → 8 → 50) with class names, seeded. */
export function mlp50(seed = 1): MlpClassifier {
  manualSeed(seed);
  return new MlpClassifier({ inFeatures: 6, hidden: [8], numClasses: 50, labels: LABELS_50 });
}

/** A batch of 4 feature rows for {@link mlp50}. */
export function features(seed = 3): Tensor {
  return tf.randomNormal([4, 6], 0, 1, 'float32', seed);
}

/** A linear adapter config for the MLP's hidden width, plus `extra` fields. */
export function linearCfg(extra: Record<string, unknown> = {}) {
  return { type: 'linear', inFeatures: 8, dim: 4, ...extra };
}

/** Gives every parameter of `m` fresh random values (so an adapter changes outputs). */
export function randomize(m: Module, seed = 7): void {
  m.parameters().forEach((p, i) => p.assign(tf.randomNormal(p.shape, 0, 0.5, 'float32', seed + i)));
}

/** A user's own model (no classifier class of the library) made an adapter model in one step. */
class OwnClassifier extends Module {
  static override readonly typeName: string = 'OwnClassifier';
  constructor() {
    super();
    this.registerModule('body', new MlpBody({ inFeatures: 6, hidden: [8] }));
    this.registerModule('head', new Linear({ inFeatures: 8, outFeatures: 3 }));
  }
  override forward(x: Tensor): Tensor {
    return this.getChild('head')!.forward(this.getChild('body')!.forward(x)) as Tensor;
  }
}
export const OwnAdapterClassifier = makeAdapterModel(OwnClassifier, {
  moduleNames: ['body'],
  defaultModuleName: 'body',
});

/** The values of `t` as a flat array (for bitwise comparisons). */
export function bits(t: Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}
