/**
 * `npm run bench`: training-step and inference costs measured side by side in one run, on the
 * benchmark model of TFJS-NOTES (vocabulary 96, d_model 256, 4 layers, 4 heads, FFN 1024,
 * sequence 128, batch 16). Prints ratios and writes bench/results.json.
 *
 * - full fine-tuning vs LinearAdapter-only vs LoRA-only steps (AdamW);
 * - inference with disabled adapters vs the same model without adapters;
 * - per-sample routing of 8 LoRA adapters in one batch (bench/routing.ts);
 * - per-token cost of key/value-cached decoding at prefix 120 vs 8 (bench/kv-cache.ts);
 * - the same model's step in PyTorch on this CPU when Debian's python3-torch is importable.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initBackend, getBackendInfo } from '../src/backend/backend.js';
import { tf } from '../src/backend/tf.js';
import '../src/index.js';
import { PeftModel } from '../src/adapters/lora/model.js';
import { CharLM, type CharLMConfig } from '../src/models/char-lm.js';
import { manualSeed } from '../src/rng.js';
import { AdamW } from '../src/train/adamw.js';
import { crossEntropy } from '../src/train/losses.js';
import { benchKvCache } from './kv-cache.js';
import { benchRouting } from './routing.js';

const CFG: CharLMConfig = { vocabSize: 96, dModel: 256, numLayers: 4, nHead: 4, dFF: 1024, maxLen: 128 };
const BATCH = 16;
const REPS = Number(process.env.BENCH_REPS ?? 5);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function makeBatch() {
  const ids = tf.randomUniform([BATCH, CFG.maxLen], 0, CFG.vocabSize, 'int32', 1);
  const targets = tf.randomUniform([BATCH, CFG.maxLen], 0, CFG.vocabSize, 'int32', 2);
  return { ids, targets };
}

/** Median wall time of one AdamW step over the model's trainable parameters. */
function stepMs(model: { forward(ids: tf.Tensor): tf.Tensor; namedParameters(): Array<[string, tf.Variable]> }): number {
  const { ids, targets } = makeBatch();
  const named = model.namedParameters().filter(([, v]) => v.trainable);
  const opt = new AdamW(named, { lr: 1e-3 });
  const vars = named.map(([, v]) => v);
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => crossEntropy(model.forward(ids), targets), vars);
      opt.step(grads);
      value.dataSync();
    });
  for (let i = 0; i < 2; i++) step();
  const times: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  opt.dispose();
  ids.dispose();
  targets.dispose();
  return median(times);
}

function freshModel(): CharLM {
  manualSeed(0);
  return new CharLM(structuredClone(CFG));
}

/**
 * Forward time of one model without adapters vs the same model holding disabled adapters. The
 * adapters are added before and deleted after each "held" measurement, and the order alternates, so
 * both sides run on the same weights, memory and machine load.
 */
function disabledOverhead(): { plainMs: number; disabledMs: number; overhead: number } {
  const model = freshModel().eval();
  const { ids } = makeBatch();
  const fwd = () => {
    const t0 = performance.now();
    tf.tidy(() => model.forward(ids).dataSync());
    return performance.now() - t0;
  };
  const held = () => {
    model.addAdapter('a', { type: 'linear', inFeatures: CFG.dModel, dim: 32 });
    model.addAdapter('b', { type: 'linear', inFeatures: CFG.dModel, dim: 64 });
    model.setEnabledAdapters(null, false);
    model.eval();
    fwd(); // the first forward after allocating the adapters pays for memory growth, not for adapters
    const ms = fwd();
    model.deleteAdapter('a');
    model.deleteAdapter('b');
    return ms;
  };
  for (let i = 0; i < 2; i++) {
    fwd();
    held();
  }
  // Paired measurements: machine load drifts slowly, so each pair sees the same load; the median
  // of the per-pair ratios is robust to the occasional slow run.
  const a: number[] = [];
  const b: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < 6 * REPS; i++) {
    let plain: number;
    let disabled: number;
    if (i % 2) {
      plain = fwd();
      disabled = held();
    } else {
      disabled = held();
      plain = fwd();
    }
    a.push(plain);
    b.push(disabled);
    ratios.push(disabled / plain - 1);
  }
  ids.dispose();
  model.dispose();
  const plainMs = median(a);
  const disabledMs = median(b);
  return { plainMs, disabledMs, overhead: median(ratios) };
}

/** The PyTorch step, the faster of 1 and 2 threads; null when torch is not importable. */
function torchStep(): { fullStepMs: number; adapterStepMs: number; threads: number; blas: string } | null {
  const script = fileURLToPath(new URL('./torch_step.py', import.meta.url));
  const env = { ...process.env };
  // Older OpenBLAS builds need these on some CPUs; they slow a current one down, so not for this run.
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const runs = [];
  for (const threads of [1, 2]) {
    for (const py of ['/usr/bin/python3', 'python3']) {
      const r = spawnSync(py, [script, '--threads', String(threads), '--reps', String(REPS)], { env, encoding: 'utf8' });
      if (r.status === 0) {
        runs.push(JSON.parse(r.stdout.trim().split('\n').at(-1)!));
        break;
      }
    }
  }
  if (runs.length === 0) return null;
  return runs.sort((x, y) => x.fullStepMs - y.fullStepMs)[0];
}

await initBackend();
console.log(`backend ${getBackendInfo().name}; model vocab ${CFG.vocabSize}, d_model ${CFG.dModel}, ${CFG.numLayers} layers, FFN ${CFG.dFF}, batch ${BATCH}×${CFG.maxLen}; median of ${REPS}`);

const fullModel = freshModel();
const fullStepMs = stepMs(fullModel);
fullModel.dispose();

const adapterModel = freshModel();
adapterModel.addAdapter('a', { type: 'linear', inFeatures: CFG.dModel, dim: 32 });
adapterModel.freeze();
adapterModel.unfreezeEnabledAdapters();
adapterModel.train();
const adapterStepMs = stepMs(adapterModel);
adapterModel.dispose();

const loraModel = PeftModel.wrap(freshModel(), { type: 'lora', r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] });
loraModel.train();
const loraStepMs = stepMs(loraModel as unknown as CharLM);
loraModel.dispose();

const inference = disabledOverhead();
const routing = await benchRouting();
const kvCache = await benchKvCache();
const torch = torchStep();

const tokens = BATCH * CFG.maxLen;
const results = {
  backend: getBackendInfo().name,
  model: { ...CFG, batch: BATCH },
  reps: REPS,
  fullStepMs,
  adapterStepMs,
  loraStepMs,
  adapterStepVsFull: adapterStepMs / fullStepMs,
  loraStepVsFull: loraStepMs / fullStepMs,
  fullTokensPerSecond: tokens / (fullStepMs / 1000),
  adapterTokensPerSecond: tokens / (adapterStepMs / 1000),
  loraTokensPerSecond: tokens / (loraStepMs / 1000),
  plainInferenceMs: inference.plainMs,
  disabledAdapterInferenceMs: inference.disabledMs,
  disabledAdapterInferenceOverhead: inference.overhead,
  routing,
  kvCachePerTokenRatio: kvCache.kvCachePerTokenRatio,
  kvCache,
  torchFullStepMs: torch?.fullStepMs ?? null,
  torchAdapterStepMs: torch?.adapterStepMs ?? null,
  torchThreads: torch?.threads ?? null,
  fullStepVsTorch: torch ? fullStepMs / torch.fullStepMs : null,
  adapterStepVsTorch: torch ? adapterStepMs / torch.adapterStepMs : null,
  torchBlas: torch?.blas ?? 'not measured: python3-torch is not importable',
};
writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);

const ms = (x: number) => `${x.toFixed(0)} ms`;
console.log(`training step: full ${ms(fullStepMs)}, LinearAdapter ${ms(adapterStepMs)} (${results.adapterStepVsFull.toFixed(2)}× full), LoRA ${ms(loraStepMs)} (${results.loraStepVsFull.toFixed(2)}× full)`);
console.log(`inference: no adapters ${ms(inference.plainMs)}, disabled adapters ${ms(inference.disabledMs)} (overhead ${(100 * inference.overhead).toFixed(2)} %)`);
console.log(`routing 8 LoRA adapters per row: ${ms(routing.perSampleMs)} = ${routing.perSampleVsSingle.toFixed(2)}× one adapter, ${routing.perSampleVsSubBatches.toFixed(2)}× 8 sub-batches in turn`);
console.log(`key/value cache: ${kvCache.perTokenMsAtPrefix8.toFixed(1)} ms/token at prefix 8, ${kvCache.perTokenMsAtPrefix120.toFixed(1)} at prefix 120 (ratio ${kvCache.kvCachePerTokenRatio.toFixed(2)}); uncached ${ms(kvCache.uncachedPerTokenMsAtPrefix120)} at 120`);
if (torch) {
  console.log(`PyTorch ${torch.threads} thread(s), BLAS ${torch.blas}: full ${ms(torch.fullStepMs)}, adapter ${ms(torch.adapterStepMs)}; adapterkit/PyTorch full ${results.fullStepVsTorch!.toFixed(2)}×, adapter ${results.adapterStepVsTorch!.toFixed(2)}×`);
} else {
  console.log('PyTorch: skipped (python3-torch is not importable; `apt-get install python3-torch libopenblas0-pthread` to compare)');
}
console.log('wrote bench/results.json');
