/**
 * A project that installed the packed adapterkit tarball: trains a LinearAdapter with the Trainer and a
 * LoRA adapter with AdamW, saves both by path, reloads them onto fresh copies of the base model and
 * compares outputs. Prints one JSON line for the package test.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdamW,
  PeftModel,
  Trainer,
  crossEntropy,
  initBackend,
  loadPretrained,
  models,
  restoreModel,
  saveModel,
  savePretrained,
  tf,
  type models as Models,
} from 'adapterkit';
import { loadAdaptersFromFile, saveAdaptersToFile } from 'adapterkit/node';

type Batch = { x: tf.Tensor2D; y: tf.Tensor2D };

await initBackend();
const cfg = { vocabSize: 12, dModel: 16, numLayers: 1, nHead: 2, dFF: 32, maxLen: 8 };
const base = new models.CharLM(cfg);
const baseCkpt = saveModel(base); // in memory: config JSON + safetensors bytes
const freshBase = (): Models.CharLM => restoreModel((c) => new models.CharLM(c), baseCkpt);
const batch: Batch = {
  x: tf.tensor2d(
    [
      [1, 2, 3, 4, 5, 6],
      [6, 5, 4, 3, 2, 1],
    ],
    [2, 6],
    'int32',
  ),
  y: tf.tensor2d(
    [
      [2, 3, 4, 5, 6, 7],
      [5, 4, 3, 2, 1, 0],
    ],
    [2, 6],
    'int32',
  ),
};
const maxDiff = (a: tf.Tensor, b: tf.Tensor): number =>
  tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
const dir = mkdtempSync(join(tmpdir(), 'adapterkit-consumer-'));

// A NeMo-style LinearAdapter trained by the Trainer (AdamW inside).
base.addAdapter('task', { type: 'linear', inFeatures: 16, dim: 4 });
base.freeze();
base.unfreezeEnabledAdapters();
const trainer = new Trainer<Batch>({
  model: base,
  loss: (b, m) => crossEntropy(m.forward(b.x) as tf.Tensor, b.y),
  optimizer: { lr: 0.05 },
  maxSteps: 8,
  seed: 1,
});
const fit = await trainer.fit(() => batch);
base.eval();
await saveAdaptersToFile(base, join(dir, 'task.safetensors'), 'task');
const reloaded = freshBase();
reloaded.eval();
await loadAdaptersFromFile(reloaded, join(dir, 'task.safetensors'));
const adapterDiff = maxDiff(base.forward(batch.x), reloaded.forward(batch.x));

// LoRA trained with AdamW directly, saved and loaded as a PEFT directory.
const peft = PeftModel.wrap(freshBase(), {
  type: 'lora',
  r: 4,
  loraAlpha: 8,
  targetModules: ['q_proj', 'v_proj'],
});
const params = peft.namedParameters().filter(([, p]) => p.trainable);
const opt = new AdamW(params, { lr: 0.05 });
const loraLosses: number[] = [];
for (let i = 0; i < 8; i++) {
  const { value, grads } = tf.variableGrads(
    () => crossEntropy(peft.forward(batch.x), batch.y),
    params.map(([, p]) => p),
  );
  loraLosses.push(value.dataSync()[0]!);
  opt.step(new Map(params.map(([, p]) => [p, grads[p.name]!] as const)));
  tf.dispose([value, ...Object.values(grads)]);
}
peft.eval();
await savePretrained(peft, join(dir, 'peft'));
const restored = await loadPretrained(freshBase(), join(dir, 'peft'));
const loraDiff = maxDiff(peft.forward(batch.x), restored.forward(batch.x));

console.log(
  JSON.stringify({
    trainerLosses: fit.losses,
    optimizerIsAdamW: trainer.optimizer instanceof AdamW,
    adapterDiff,
    loraLosses,
    loraDiff,
    loraAdapters: restored.adapterNames(),
  }),
);
