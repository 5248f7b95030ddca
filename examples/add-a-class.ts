// Adds a class to a trained classifier with one adapter: the adapter owns the new output row (an
// output extension) and a small linear adapter in the hidden layer; the base stays frozen, and
// disabling the adapter gives back the base classifier's logits bit for bit.
import { initBackend, manualSeed, models, outputLabels, tf } from '../src/index.js';

await initBackend();
manualSeed(0);

const FEATURES = 8;
const centres = tf.randomNormal([5, FEATURES], 0, 2.5, 'float32', 1);
/** `n` noisy points around each centre of `classes`, with their class numbers. */
function sample(classes: number[], n: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const labels = classes.flatMap((c) => Array<number>(n).fill(c));
  const y = tf.tensor1d(labels, 'int32');
  const x = tf.tidy(() =>
    tf.add(tf.gather(centres, y), tf.randomNormal([labels.length, FEATURES], 0, 1, 'float32', seed)),
  );
  return { x: x as tf.Tensor2D, y };
}
/** A few full-batch Adam steps on the trainable parameters of `model`. */
function fit(
  model: models.MlpClassifier,
  data: { x: tf.Tensor; y: tf.Tensor },
  steps: number,
  lr: number,
): void {
  const opt = tf.train.adam(lr);
  const vars = model.parameters().filter((p) => p.trainable);
  for (let i = 0; i < steps; i++) {
    opt
      .minimize(
        () => {
          const logits = model.forward(data.x);
          return tf.losses.softmaxCrossEntropy(tf.oneHot(data.y, logits.shape[1]!), logits) as tf.Scalar;
        },
        true,
        vars,
      )
      ?.dispose();
  }
  opt.dispose();
}
/** Accuracy of `model` on the points of class `c` (all points when `c` is omitted). */
function accuracy(model: models.MlpClassifier, data: { x: tf.Tensor; y: tf.Tensor1D }, c?: number): number {
  const predicted = tf.tidy(() => tf.argMax(model.forward(data.x), 1).dataSync());
  const rows = [...data.y.dataSync()]
    .map((y, i) => [y, predicted[i]])
    .filter(([y]) => c === undefined || y === c);
  return rows.filter(([y, p]) => y === p).length / rows.length;
}

// 1. A classifier trained on four classes.
const clf = new models.MlpClassifier({
  inFeatures: FEATURES,
  hidden: [16],
  numClasses: 4,
  labels: ['a', 'b', 'c', 'd'],
});
fit(clf, sample([0, 1, 2, 3], 40, 2), 100, 0.03);
const oldTest = sample([0, 1, 2, 3], 50, 3);
const baseLogits = clf.forward(oldTest.x);
console.log(`base accuracy on a-d: ${accuracy(clf, oldTest).toFixed(2)}`);

// 2. One adapter adds class 'e': it owns the new row of the output layer and a linear adapter.
clf.freeze();
clf.addAdapter('add-e', {
  type: 'linear',
  inFeatures: 16,
  dim: 4,
  extendOutput: { module: 'classifier', newLabels: ['e'] },
});
clf.unfreezeEnabledAdapters(); // only the adapter's tensors (and its new row) train
fit(clf, sample([0, 1, 2, 3, 4], 20, 4), 100, 0.03);
console.log(`labels with the adapter: ${outputLabels(clf)!.join(', ')}`);
const newTest = sample([0, 1, 2, 3, 4], 50, 5);
console.log(`accuracy on the new class e: ${accuracy(clf, newTest, 4).toFixed(2)}`);
console.log(`accuracy on a-d with the adapter: ${accuracy(clf, oldTest).toFixed(2)}`);

// 3. Disabled, the adapter leaves exactly the base classifier.
clf.setEnabledAdapters('add-e', false);
const same = tf.equal(clf.forward(oldTest.x), baseLogits).all().dataSync()[0] === 1;
console.log(`disabled: ${outputLabels(clf)!.length} classes, base logits bit for bit: ${same}`);
