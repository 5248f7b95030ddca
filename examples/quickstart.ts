/**
 * The README's quick start as a runnable program: `npx tsx examples/quickstart.ts`.
 * (The test suite runs it too, so the README's code cannot rot.)
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  PeftModel,
  formatTrainableParameters,
  initBackend,
  loadPretrained,
  models,
  savePretrained,
  tf,
  trainableParameterReport,
} from '../src/node.js';

export async function quickstart(): Promise<string[]> {
  const log: string[] = [];
  await initBackend(); // wasm in Node (ADAPTERKIT_BACKEND=cpu to override)

  const cfg = { vocabSize: 91, dModel: 32, numLayers: 2, nHead: 4, dFF: 64, maxLen: 32 };
  const lm = new models.CharLM(cfg);
  const ids = tf.tensor2d([[5, 6, 7, 8]], [1, 4], 'int32');

  // NeMo-style adapters: names are 'module:name'; no prefix means the model's default module.
  lm.addAdapter('decoder:sotu', { type: 'linear', inFeatures: 32, dim: 8 });
  lm.addAdapter('formal', { type: 'linear', inFeatures: 32, dim: 4, normPosition: 'post' });
  lm.freeze();
  lm.unfreezeEnabledAdapters(); // only enabled adapters train
  lm.setEnabledAdapters('formal', false); // switch at run time; execution order never changes
  const logits = lm.forward(ids); // [1, 4, 91]: adapters chained in insertion order
  log.push(`logits ${logits.shape.join('x')}; enabled: ${lm.getEnabledAdapters().join(', ')}`);

  const bytes = lm.saveAdapters('sotu'); // only the adapter's tensors and config
  const other = new models.CharLM(cfg);
  other.loadAdapters(bytes, { rename: { sotu: 'customer_a' } });
  log.push(`adapter file: ${bytes.length} bytes; loaded as ${other.getEnabledAdapters().join(', ')}`);

  // LoRA with PEFT-compatible checkpoints.
  const base = new models.CharLM(cfg);
  const peft = PeftModel.wrap(base, { type: 'lora', r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] });
  peft.addAdapter('legal', { type: 'lora', r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'] });
  const batch = tf.tensor2d([[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 3, 5]], [4, 3], 'int32');
  const routed = peft.forward(batch, { adapterNames: ['default', 'legal', '__base__', 'legal'] }); // one adapter per row
  log.push(`routed ${routed.shape.join('x')}`);
  log.push(formatTrainableParameters(trainableParameterReport(peft)));

  const dir = join(mkdtempSync(join(tmpdir(), 'adapterkit-quickstart-')), 'peft');
  await savePretrained(peft, dir); // adapter_config.json + adapter_model.safetensors, as PEFT writes them
  const restored = await loadPretrained(new models.CharLM(cfg), dir);
  log.push(`restored adapters: ${restored.adapterNames().join(', ')}`);
  peft.mergeAdapters(['default']); // fold into the base weights; unmergeAdapters() reverts
  peft.unmergeAdapters();
  return log;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const line of await quickstart()) console.log(line);
}
