import {
  initBackend,
  models,
  PeftModel,
  Trainer,
  crossEntropy,
  savePretrained,
  loadPretrained,
  tf,
  trainableParameterReport,
  formatTrainableParameters,
} from '../src/node.js'; // in a browser: 'adapterkit'

await initBackend(); // wasm in Node (ADAPTERKIT_BACKEND=cpu to override)
const cfg = { vocabSize: 91, dModel: 32, numLayers: 2, nHead: 4, dFF: 64, maxLen: 32 };
const lm = new models.CharLM(cfg);

// NeMo-style adapters: names are 'module:name'; no prefix means the model's default module.
lm.addAdapter('decoder:sotu', { type: 'linear', inFeatures: 32, dim: 8 });
lm.addAdapter('formal', { type: 'linear', inFeatures: 32, dim: 4, normPosition: 'post' });
lm.setEnabledAdapters('formal', false); // switch at run time; execution order never changes
lm.freeze();
lm.unfreezeEnabledAdapters(); // only enabled adapters train
const ids = tf.tensor2d([[5, 6, 7, 8]], [1, 4], 'int32');
const logits = lm.forward(ids); // adapters chained in insertion order
console.log(`logits ${logits.shape.join('x')}; enabled: ${lm.getEnabledAdapters().join(', ')}`);
// logits 1x4x91; enabled: sotu

// Training: AdamW over the trainable parameters, plus the adapters' auxiliary losses (`auxiliaryLosses`).
const next = tf.tensor2d([[6, 7, 8, 9]], [1, 4], 'int32');
const trainer = new Trainer({
  model: lm,
  loss: (_batch, m) => crossEntropy(m.forward(ids), next),
  optimizer: { lr: 1e-2 },
  auxiliaryLosses: lm,
});
const { losses } = await trainer.fit(() => null, { steps: 20 }); // batches: here one fixed example
console.log(`loss ${losses[0]!.toFixed(2)} → ${losses[losses.length - 1]!.toFixed(2)}`);

const bytes = lm.saveAdapters('sotu'); // ~6 KB: only the adapter's tensors and config
const other = new models.CharLM(cfg);
other.loadAdapters(bytes, { rename: { sotu: 'customer_a' } });

// LoRA, with checkpoints as Hugging Face PEFT writes them.
const peft = PeftModel.wrap(new models.CharLM(cfg), {
  type: 'lora',
  r: 8,
  loraAlpha: 16,
  targetModules: ['q_proj', 'v_proj'],
});
peft.addAdapter('legal', { type: 'lora', r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'] });
const batch = tf.tensor2d(
  [
    [1, 2, 3],
    [4, 5, 6],
    [7, 8, 9],
    [1, 3, 5],
  ],
  [4, 3],
  'int32',
);
const routed = peft.forward(batch, { adapterNames: ['default', 'legal', '__base__', 'legal'] }); // one adapter per row
console.log(`routed ${routed.shape.join('x')}`);
// routed 4x3x91
console.log(formatTrainableParameters(trainableParameterReport(peft)));
// trainable params: 3,072 || all params: 27,163 || trainable%: 11.3095
await savePretrained(peft, 'out/peft'); // adapter_config.json + adapter_model.safetensors (+ legal/)
const restored = await loadPretrained(new models.CharLM(cfg), 'out/peft');
console.log(`restored adapters: ${restored.adapterNames().join(', ')}`);
// restored adapters: default
peft.mergeAdapters(['default']); // fold into the base weights; unmergeAdapters() reverts
