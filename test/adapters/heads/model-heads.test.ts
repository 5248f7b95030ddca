/** SPEC §5.2 adapter-owned heads at model level (B-321, B-322, B-324, B-325, B-326). */
import { describe, expect, it } from 'vitest';
import { tf, type Tensor } from '../../../src/backend/tf.js';
import { Parallel, Stack } from '../../../src/adapters/composition/setup.js';
import { AdapterHeadsWrapper } from '../../../src/adapters/heads/heads-wrapper.js';
import { baseOutputLabels, outputLabels, planHeads } from '../../../src/adapters/heads/model-heads.js';
import { trainableParameterReport } from '../../../src/adapters/report.js';
import { EncoderClassifier } from '../../../src/models/encoder-classifier.js';
import { MlpClassifier } from '../../../src/models/mlp-classifier.js';
import { Linear } from '../../../src/nn/layers.js';
import { thrown } from '../../helpers.js';
import { bits, features, LABELS_50, linearCfg, mlp50, OwnAdapterClassifier, randomize } from './fixture.js';

function sgdSteps(model: { forward(x: Tensor): Tensor; parameters(): tf.Variable[] }, x: Tensor, steps = 3) {
  const opt = tf.train.sgd(0.1);
  const vars = model.parameters().filter((p) => p.trainable);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), model.forward(x).shape[1]!));
  for (let i = 0; i < steps; i++) {
    const loss = opt.minimize(
      () => tf.losses.softmaxCrossEntropy(y, model.forward(x)) as tf.Scalar,
      true,
      vars,
    );
    loss?.dispose();
  }
  y.dispose();
  opt.dispose();
}

describe('§5.2 adapter-owned heads', () => {
  it('B-321 modulesToSave: the copy runs while active; disabled gives the base bit for bit; the original is untouched by training', () => {
    const m = mlp50();
    const x = features();
    const base = bits(m.forward(x));
    const original = m.getSubmodule('classifier') as Linear;
    m.freeze();
    m.addAdapter('a', linearCfg({ modulesToSave: ['classifier'] }));
    m.unfreezeEnabledAdapters();
    const w = m.getSubmodule('classifier') as AdapterHeadsWrapper;
    expect(w).toBeInstanceOf(AdapterHeadsWrapper);
    expect(w.originalModule).toBe(original);
    const before = original.parameters().map((p) => bits(p));
    // At init the copy equals the original (and the linear adapter is zero-initialised).
    expect(bits(m.forward(x))).toEqual(base);
    const copy = w.modules_to_save.get('a')!;
    expect(copy.parameters().every((p) => p.trainable)).toBe(true);
    expect(original.parameters().some((p) => p.trainable)).toBe(false);
    sgdSteps(m, x);
    expect(original.parameters().map((p) => bits(p))).toEqual(before);
    const trained = bits(m.forward(x));
    expect(trained).not.toEqual(base);
    randomize(copy);
    expect(bits(m.forward(x))).not.toEqual(trained); // changing the copy changes outputs
    m.setEnabledAdapters('a', false);
    expect(bits(m.forward(x))).toEqual(base);
    // State keys of the original are unchanged; the copy lives under modules_to_save.<adapter>.
    const keys = [...m.stateDict().keys()];
    expect(keys).toContain('classifier.weight');
    expect(keys).toContain('classifier.modules_to_save.a.weight');
  });

  it('B-322 two adapters with copies of the head: switching switches heads; both active → INVALID_CONFIG naming the module and both', () => {
    const m = mlp50();
    const x = features();
    m.addAdapter('a', linearCfg({ modulesToSave: ['classifier'] }));
    m.addAdapter('b', linearCfg({ modulesToSave: ['classifier'] }));
    const w = m.getSubmodule('classifier') as AdapterHeadsWrapper;
    randomize(w.modules_to_save.get('a')!, 11);
    randomize(w.modules_to_save.get('b')!, 22);
    const err = thrown(() => m.forward(x));
    expect(err.code).toBe('INVALID_CONFIG');
    for (const s of ['classifier', "'a'", "'b'"]) expect(err.message).toContain(s);
    m.setEnabledAdapters('b', false);
    const ya = bits(m.forward(x));
    m.setEnabledAdapters('a', false);
    m.setEnabledAdapters('b', true);
    const yb = bits(m.forward(x));
    expect(ya).not.toEqual(yb);
    const direct = (mod: string) =>
      bits(w.modules_to_save.get(mod)!.forward(m.getChild('body')!.forward(x) as Tensor) as Tensor);
    expect(yb).toEqual(direct('b'));
    m.setEnabledAdapters('b', false);
    m.setEnabledAdapters('a', true);
    expect(bits(m.forward(x))).toEqual(direct('a'));
  });

  it('B-324 one new label on a 50-class classifier: 51 columns, the first 50 the base computation with other enabled adapters; inactive → the base bit for bit', () => {
    const m = mlp50();
    const x = features();
    const base = m.forward(x);
    m.addAdapter('other', linearCfg());
    randomize(m.getAdapterModule('other')!, 5);
    m.addAdapter('ext', linearCfg({ extendOutput: { module: 'classifier', newLabels: ['epo'] } }));
    randomize(m.getAdapterModule('ext')!, 9);
    const w = m.getSubmodule('classifier') as AdapterHeadsWrapper;
    randomize(w.output_extensions.get('ext')!, 13);
    const active = m.forward(x);
    expect(active.shape).toEqual([4, 51]);
    // Columns 0–49: the layer's own rows on the adapted features (both adapters ran in the body).
    const h = m.getChild('body')!.forward(x) as Tensor;
    const own = w.originalModule.forward(h) as Tensor;
    expect(bits(active.slice([0, 0], [4, 50]))).toEqual(bits(own));
    const ext = w.output_extensions.get('ext')!;
    expect(bits(active.slice([0, 50], [4, 1]))).toEqual(bits(ext.forward(h)));
    // With only the extension's owner disabled, the other adapter still applies to the 50 columns.
    m.setEnabledAdapters('ext', false);
    const withoutExt = m.forward(x);
    expect(withoutExt.shape).toEqual([4, 50]);
    m.setEnabledAdapters(null, false);
    const inactive = m.forward(x);
    expect(inactive.shape).toEqual([4, 50]);
    expect(bits(inactive)).toEqual(bits(base));
  });

  it('B-325 extendOutput on a module that is not a linear output layer → UNSUPPORTED_TARGET naming the path; a label that exists → INVALID_CONFIG naming it', () => {
    const m = mlp50();
    const stateBefore = [...m.stateDict().keys()];
    for (const module of ['body.layers.0', 'body.layers.0.fc']) {
      const err = thrown(() =>
        m.addAdapter('e', linearCfg({ extendOutput: { module, newLabels: ['epo'] } })),
      );
      expect(err.code).toBe('UNSUPPORTED_TARGET');
      expect(err.message).toContain(`'${module}'`);
    }
    const err = thrown(() =>
      m.addAdapter('e', linearCfg({ extendOutput: { module: 'classifier', newLabels: ['epo', 'c7'] } })),
    );
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain("'c7'");
    const dup = thrown(() =>
      m.addAdapter('e', linearCfg({ extendOutput: { module: 'classifier', newLabels: ['x', 'x'] } })),
    );
    expect(dup.code).toBe('INVALID_CONFIG');
    expect(dup.message).toContain("'x'");
    const missing = thrown(() => m.addAdapter('e', linearCfg({ modulesToSave: ['haed'] })));
    expect(missing.code).toBe('TARGET_NOT_FOUND');
    expect(missing.message).toContain("'haed'");
    expect(missing.message).toContain('classifier');
    // The failed adds left nothing behind.
    expect(m.adapterNames()).toEqual([]);
    expect(m.getSubmodule('classifier')).toBeInstanceOf(Linear);
    expect([...m.stateDict().keys()]).toEqual(stateBefore);
  });

  it('B-326 the trainable-parameter report counts copies and extension rows under their owners', () => {
    const m = mlp50();
    m.freeze();
    m.addAdapter('a', linearCfg({ modulesToSave: ['classifier'] }));
    m.addAdapter('e', linearCfg({ extendOutput: { module: 'classifier', newLabels: ['epo', 'ido'] } }));
    m.unfreezeEnabledAdapters();
    const linearParams = m.getAdapterModule('a')!.numParameters();
    const r = trainableParameterReport(m);
    expect(r.byAdapter.a).toBe(linearParams + 8 * 50 + 50);
    expect(r.byAdapter.e).toBe(linearParams + 2 * 8 + 2);
    expect(r.trainable).toBe(2 * linearParams + 8 * 50 + 50 + 2 * 8 + 2);
    m.setEnabledAdapters('e', false);
    m.freeze();
    m.unfreezeEnabledAdapters(); // only enabled adapters' heads become trainable
    expect(trainableParameterReport(m).byAdapter.e).toBe(0);
  });

  it('copy and extension of one module by one adapter: the copy computes the base part, the new rows are appended', () => {
    const m = mlp50();
    const x = features();
    m.addAdapter(
      'a',
      linearCfg({
        modulesToSave: ['classifier'],
        extendOutput: { module: 'classifier', newLabels: ['epo'] },
      }),
    );
    const w = m.getSubmodule('classifier') as AdapterHeadsWrapper;
    randomize(w.modules_to_save.get('a')!, 3);
    randomize(w.output_extensions.get('a')!, 4);
    const y = m.forward(x);
    const h = m.getChild('body')!.forward(x) as Tensor;
    expect(bits(y)).toEqual(
      bits(
        tf.concat(
          [w.modules_to_save.get('a')!.forward(h) as Tensor, w.output_extensions.get('a')!.forward(h)],
          1,
        ),
      ),
    );
  });

  it('composition: a Stack switches to the heads of the adapters it names; Parallel branches that own heads → INVALID_CONFIG', () => {
    const m = mlp50();
    const x = features();
    m.addAdapter('a', linearCfg({ modulesToSave: ['classifier'] }));
    m.addAdapter('b', linearCfg({ modulesToSave: ['classifier'] }));
    const w = m.getSubmodule('classifier') as AdapterHeadsWrapper;
    randomize(w.modules_to_save.get('b')!, 8);
    m.setActiveSetup(Stack('b'));
    const h = m.getChild('body')!.forward(x) as Tensor;
    expect(bits(m.forward(x))).toEqual(bits(w.modules_to_save.get('b')!.forward(h) as Tensor));
    m.setActiveSetup(Parallel('a', 'b'));
    const err = thrown(() => m.forward(x));
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toContain('parallel');
    m.setActiveSetup(null);
  });

  it('deleting the owner puts the original module back and frees every tensor it made', () => {
    const m = mlp50();
    const x = features();
    const base = bits(m.forward(x));
    const keys = [...m.stateDict().keys()];
    const flags = m.parameters().map((p) => p.trainable);
    const n0 = tf.memory().numTensors;
    m.addAdapter(
      'a',
      linearCfg({
        modulesToSave: ['classifier'],
        extendOutput: { module: 'classifier', newLabels: ['epo'] },
      }),
    );
    m.addAdapter('b', linearCfg({ modulesToSave: ['classifier'] }));
    m.setEnabledAdapters('b', false);
    for (let i = 0; i < 3; i++) m.forward(x).dispose();
    const n1 = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) m.forward(x).dispose();
    expect(tf.memory().numTensors).toBe(n1);
    m.deleteAdapter('a');
    expect(m.getSubmodule('classifier')).toBeInstanceOf(AdapterHeadsWrapper);
    m.deleteAdapter('b');
    expect(m.getSubmodule('classifier')).toBeInstanceOf(Linear);
    expect(tf.memory().numTensors).toBe(n0);
    expect([...m.stateDict().keys()]).toEqual(keys);
    expect(m.parameters().map((p) => p.trainable)).toEqual(flags);
    expect(bits(m.forward(x))).toEqual(base);
  });

  it('works on any makeAdapterModel model: an extension of its own Linear head, with no labels to check against', () => {
    const m = new OwnAdapterClassifier();
    const x = features();
    const base = bits(m.forward(x) as Tensor);
    expect(baseOutputLabels(m)).toBeNull();
    m.addAdapter('new', linearCfg({ extendOutput: { module: 'head', newLabels: ['d'] } }));
    expect((m.forward(x) as Tensor).shape).toEqual([4, 4]);
    m.setEnabledAdapters('new', false);
    expect(bits(m.forward(x) as Tensor)).toEqual(base);
    expect(planHeads(m, { modulesToSave: ['head'] }, 'test').copies).toEqual(['head']);
    const err = thrown(() => planHeads(m, { modulesToSave: ['body'] }, 'test'));
    expect(err.code).toBe('UNSUPPORTED_TARGET');
    expect(err.message).toContain("'body'");
  });

  it('a whole-model checkpoint keeps heads: a model built from the saved config and state gives the same outputs', () => {
    const m = mlp50();
    const x = features();
    m.addAdapter('a', linearCfg({ extendOutput: { module: 'classifier', newLabels: ['epo'] } }));
    randomize((m.getSubmodule('classifier') as AdapterHeadsWrapper).output_extensions.get('a')!, 2);
    const fresh = new MlpClassifier(structuredClone(m.cfg));
    fresh.loadStateDict(m.stateDict());
    expect(bits(fresh.forward(x))).toEqual(bits(m.forward(x)));
  });
});

describe('outputLabels', () => {
  it("lists the model's labels, then the active extension's new ones; column numbers when the model has none", () => {
    const m = mlp50();
    expect(outputLabels(m)).toEqual(LABELS_50);
    m.addAdapter('e', linearCfg({ extendOutput: { module: 'classifier', newLabels: ['epo'] } }));
    expect(outputLabels(m)).toEqual([...LABELS_50, 'epo']);
    m.setEnabledAdapters('e', false);
    expect(outputLabels(m)).toEqual(LABELS_50);
    const own = new OwnAdapterClassifier();
    expect(outputLabels(own)).toBeNull();
    own.addAdapter('n', linearCfg({ extendOutput: { module: 'head', newLabels: ['d'] } }));
    expect(outputLabels(own)).toEqual(['0', '1', '2', 'd']);
  });
});

describe('heads on the library classifiers', () => {
  it('EncoderClassifier: an extension of its classifier adds a column; disabled → the base bit for bit', () => {
    const clf = new EncoderClassifier({
      vocabSize: 12,
      dModel: 8,
      numLayers: 1,
      nHead: 2,
      dFF: 16,
      maxLen: 6,
      numClasses: 2,
      labels: ['ham', 'spam'],
    });
    const ids = tf.tensor2d(
      [
        [1, 2, 3, 4],
        [4, 3, 2, 1],
      ],
      [2, 4],
      'int32',
    );
    const base = bits(clf.forward(ids));
    const err = thrown(() =>
      clf.addAdapter('e', {
        type: 'linear',
        inFeatures: 8,
        dim: 2,
        extendOutput: { module: 'classifier', newLabels: ['spam'] },
      }),
    );
    expect(err.code).toBe('INVALID_CONFIG');
    clf.addAdapter('e', {
      type: 'linear',
      inFeatures: 8,
      dim: 2,
      extendOutput: { module: 'classifier', newLabels: ['phish'] },
    });
    expect(clf.forward(ids).shape).toEqual([2, 3]);
    expect(outputLabels(clf)).toEqual(['ham', 'spam', 'phish']);
    clf.setEnabledAdapters('e', false);
    expect(bits(clf.forward(ids))).toEqual(base);
  });

  it('training an adapter with heads keeps the tensor count flat from step to step', () => {
    const m = mlp50();
    const x = features();
    m.freeze();
    m.addAdapter(
      'a',
      linearCfg({
        modulesToSave: ['classifier'],
        extendOutput: { module: 'classifier', newLabels: ['epo'] },
      }),
    );
    m.unfreezeEnabledAdapters();
    sgdSteps(m, x, 1);
    const n = tf.memory().numTensors;
    sgdSteps(m, x, 2);
    expect(tf.memory().numTensors).toBe(n);
  });

  it('labels of a classifier must be one per class and all different', () => {
    for (const labels of [['a'], ['a', 'a', 'b'], ['a', '', 'c']]) {
      const err = thrown(() => new MlpClassifier({ inFeatures: 2, hidden: [], numClasses: 3, labels }));
      expect(err.code).toBe('INVALID_CONFIG');
      expect(err.message).toContain('labels');
    }
  });
});
