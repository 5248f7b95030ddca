import {
  initBackend,
  manualSeed,
  models,
  PeftModel,
  Trainer,
  crossEntropy,
  savePretrained,
  loadPretrained,
  tf,
} from '../src/index.js';

await initBackend();
const cfg = { vocabSize: 91, dModel: 32, numLayers: 2, nHead: 4, dFF: 64, maxLen: 32 };
manualSeed(1);
const base = new models.CharLM(cfg);

// VeRA: one pair of frozen random matrices A [r, maxIn], B [maxOut, r], drawn from projectionPrngKey
// and shared by every targeted layer; each layer trains only λ_d [r] and λ_b [out].
const peft = PeftModel.wrap(base, {
  type: 'vera',
  r: 64,
  targetModules: ['q_proj', 'v_proj', 'fc1'],
  projectionPrngKey: 0,
});
console.log(`trainable: ${peft.numParameters({ trainableOnly: true })}`);
// trainable: 640

const ids = tf.tensor2d([[5, 6, 7, 8]], [1, 4], 'int32');
const next = tf.tensor2d([[6, 7, 8, 9]], [1, 4], 'int32');
const trainer = new Trainer({
  model: peft,
  loss: (_batch, m) => crossEntropy(m.forward(ids), next),
  optimizer: { lr: 1e-2 },
});
await trainer.fit(() => null, { steps: 10 });

// PEFT's VeRA directory: adapter_config.json (peft_type "VERA") and adapter_model.safetensors with
// base_model.model.<path>.vera_lambda_b / .vera_lambda_d and the projections base_model.vera_A / vera_B.
const files = new Map<string, Uint8Array>();
await savePretrained(peft, {
  writeFile: (path, data) =>
    void files.set(path, typeof data === 'string' ? new TextEncoder().encode(data) : data),
});
manualSeed(1);
const restored = await loadPretrained(new models.CharLM(cfg), {
  readFile: (path) => files.get(path) ?? null,
});
peft.eval();
restored.eval();
const same = tf.tidy(() => tf.equal(peft.forward(ids), restored.forward(ids)).all().dataSync()[0] === 1);
console.log(`restored output equal: ${same}`);
// restored output equal: true
peft.mergeAdapters(); // W += diag(λ_b)·B·diag(λ_d)·A; unmergeAdapters() reverts
