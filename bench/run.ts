/**
 * `npm run bench [-- --profile]`: training-step and inference costs measured side by side in one run, on the
 * benchmark model of TFJS-NOTES (vocabulary 96, d_model 256, 4 layers, 4 heads, FFN 1024,
 * sequence 128, batch 16). Prints ratios and writes bench/results.json.
 *
 * - full fine-tuning vs LinearAdapter-only vs LoRA-only steps (AdamW), one of each in turn so that
 *   their ratios are measured under the same load;
 * - inference with disabled adapters vs the same model without adapters;
 * - per-sample routing of 8 LoRA adapters in one batch (bench/routing.ts);
 * - per-token cost of key/value-cached decoding at prefix 120 vs 8 (bench/kv-cache.ts);
 * - the same model's full, LinearAdapter and LoRA steps in PyTorch on this CPU when Debian's python3-torch is importable;
 * - with native kernels active: the full step with 1 and 2 BLAS threads, and on wasm without the addon (its JavaScript kernels, and TensorFlow.js's own kernels alone);
 * - `--profile`: each kernel's share of one full, LinearAdapter and LoRA step and the matMuls' GFLOP/s;
 * - `--steps-only`: only the three kinds of step side by side (printed, nothing written).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initBackend, getBackendInfo } from '../src/backend/backend.js';
import { activateNative, nativeStatus } from '../src/backend/native.js';
import { activateJsKernels } from '../src/backend/js-kernels.js';
import { tf } from '../src/backend/tf.js';
import '../src/index.js';
import { PeftModel } from '../src/adapters/index.js';
import { CharLM, type CharLMConfig } from '../src/models/char-lm.js';
import { manualSeed } from '../src/rng.js';
import { AdamW } from '../src/train/adamw.js';
import { crossEntropy } from '../src/train/losses.js';
import { benchKvCache } from './kv-cache.js';
import { benchRouting } from './routing.js';

const CFG: CharLMConfig = { vocabSize: 96, dModel: 256, numLayers: 4, nHead: 4, dFF: 1024, maxLen: 128 };
const BATCH = 16;
const REPS = Number(process.env.BENCH_REPS ?? 5);
/**
 * Rounds of the side-by-side steps. Single steps on this 2-core machine vary by ±10 % from one to
 * the next, so five rounds moved the adapter/full ratios by up to ±0.05 between runs; eleven halve that.
 */
const PAIRED_REPS = Number(process.env.BENCH_PAIRED_REPS ?? 11);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function makeBatch() {
  const ids = tf.randomUniform([BATCH, CFG.maxLen], 0, CFG.vocabSize, 'int32', 1);
  const targets = tf.randomUniform([BATCH, CFG.maxLen], 0, CFG.vocabSize, 'int32', 2);
  return { ids, targets };
}

type Trainable = { forward(ids: tf.Tensor): tf.Tensor; namedParameters(): Array<[string, tf.Variable]> };

/** One AdamW step over the model's trainable parameters, and what to dispose afterwards. */
function makeStep(model: Trainable): { step: () => void; dispose: () => void } {
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
  const dispose = () => {
    opt.dispose();
    ids.dispose();
    targets.dispose();
  };
  return { step, dispose };
}

/**
 * Process CPU time of steps, by the last {@link stepMs} call. On a shared machine wall time moves
 * with other jobs' load; with one thread (wasm, or one BLAS thread) CPU time barely does, so it is
 * the steadier figure for comparisons with PyTorch at one thread.
 */
let lastCpuMs = NaN;

/** Median wall time of one AdamW step over the model's trainable parameters. */
function stepMs(model: Trainable): number {
  const { step, dispose } = makeStep(model);
  for (let i = 0; i < 2; i++) step();
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    step();
    const c = process.cpuUsage(c0);
    times.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
  dispose();
  lastCpuMs = median(cpu);
  return median(times);
}

/** Medians of steps measured in alternation, and the per-round ratios to the first (reference) step. */
interface SideBySide {
  wallMs: number[];
  cpuMs: number[];
  /** Median over rounds of `wall[i] / wall[0]` within the round. */
  wallRatio: number[];
  /** Median over rounds of `cpu[i] / cpu[0]` within the round. */
  cpuRatio: number[];
}

/**
 * One step of each model in turn, `PAIRED_REPS` rounds (the order rotates each round) after two warm-up
 * rounds, so that every kind of step sees the same machine load; ratios are taken within each round
 * (paired) and their median reported.
 */
function stepsSideBySide(models: Trainable[]): SideBySide {
  const steps = models.map((m) => makeStep(m));
  for (let r = 0; r < 2; r++) for (const s of steps) s.step();
  const wall: number[][] = steps.map(() => []);
  const cpu: number[][] = steps.map(() => []);
  for (let r = 0; r < PAIRED_REPS; r++) {
    for (let j = 0; j < steps.length; j++) {
      const i = (j + r) % steps.length;
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      steps[i]!.step();
      const c = process.cpuUsage(c0);
      wall[i]!.push(performance.now() - t0);
      cpu[i]!.push((c.user + c.system) / 1000);
    }
  }
  for (const s of steps) s.dispose();
  const paired = (xs: number[][], i: number) => median(xs[i]!.map((x, r) => x / xs[0]![r]!));
  return {
    wallMs: wall.map(median),
    cpuMs: cpu.map(median),
    wallRatio: wall.map((_, i) => paired(wall, i)),
    cpuRatio: cpu.map((_, i) => paired(cpu, i)),
  };
}

/** FLOPs of a BatchMatMul from its input and output shapes (`K` is whichever axis of `a` is not `M`). */
function matMulFlops(aShape: number[], outShape: number[]): number {
  const m = outShape.at(-2)!;
  const r = aShape.at(-2)!;
  const c = aShape.at(-1)!;
  const k = r === m ? c : r;
  return 2 * outShape.reduce((x, y) => x * y, 1) * k;
}

/** Prints each kernel's share of one step's wall time and the matMuls' GFLOP/s. */
async function profileStep(label: string, model: Trainable): Promise<void> {
  const { step, dispose } = makeStep(model);
  for (let i = 0; i < 2; i++) step();
  const t0 = performance.now();
  const info = await tf.profile(() => step());
  const wallMs = performance.now() - t0;
  const byKernel = new Map<string, { ms: number; calls: number; flops: number }>();
  for (const k of info.kernels) {
    // Custom-gradient wrappers show up as scopes that contain (and double count) their kernels.
    if (k.name.includes('scope')) continue;
    const timed = await k.kernelTimeMs;
    const ms = typeof timed === 'number' ? timed : 0;
    const row = byKernel.get(k.name) ?? { ms: 0, calls: 0, flops: 0 };
    row.ms += ms;
    row.calls += 1;
    if (k.name === 'BatchMatMul') row.flops += matMulFlops(k.inputShapes[0]!, k.outputShapes[0]!);
    byKernel.set(k.name, row);
  }
  const kernelMs = [...byKernel.values()].reduce((x, r) => x + r.ms, 0);
  const rows = [...byKernel.entries()].sort((x, y) => y[1].ms - x[1].ms);
  const launches = [...byKernel.values()].reduce((x, r) => x + r.calls, 0);
  console.log(
    `profile of one ${label} step (${launches} kernel launches, ${wallMs.toFixed(0)} ms under the profiler):`,
  );
  for (const [name, r] of rows) {
    if (r.ms / wallMs < 0.005) continue;
    const gflops = r.flops
      ? `  ${(r.flops / r.ms / 1e6).toFixed(1)} GFLOP/s (${(r.flops / 1e9).toFixed(1)} GFLOP)`
      : '';
    console.log(
      `  ${name.padEnd(22)} ${((100 * r.ms) / wallMs).toFixed(1).padStart(5)} %  ${r.ms.toFixed(0).padStart(6)} ms  ${String(r.calls).padStart(5)} calls${gflops}`,
    );
  }
  console.log(
    `  ${'(outside kernels)'.padEnd(22)} ${((100 * (wallMs - kernelMs)) / wallMs).toFixed(1).padStart(5)} %  ${(wallMs - kernelMs).toFixed(0).padStart(6)} ms  (gradient bookkeeping, tidy, JS)`,
  );
  dispose();
}

function freshModel(): CharLM {
  manualSeed(0);
  return new CharLM(structuredClone(CFG));
}

/** The bench model with one LinearAdapter (dim 32) in every block, only the adapter trainable. */
function adapterModel(): CharLM {
  const model = freshModel();
  model.addAdapter('a', { type: 'linear', inFeatures: CFG.dModel, dim: 32 });
  model.freeze();
  model.unfreezeEnabledAdapters();
  return model.train();
}

/** The bench model wrapped with LoRA r 8 on q_proj and v_proj. */
function loraModel(): PeftModel & Trainable {
  const model = PeftModel.wrap(freshModel(), {
    type: 'lora',
    r: 8,
    loraAlpha: 16,
    targetModules: ['q_proj', 'v_proj'],
  });
  model.train();
  return model as unknown as PeftModel & Trainable;
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
type TorchRun = {
  fullStepMs: number;
  adapterStepMs: number;
  fullStepCpuMs: number;
  adapterStepCpuMs: number;
  loraStepMs: number;
  loraStepCpuMs: number;
  threads: number;
  blas: string;
};

function torchStep(): (TorchRun & { oneThread: TorchRun | null }) | null {
  const script = fileURLToPath(new URL('./torch_step.py', import.meta.url));
  const env = { ...process.env };
  // Older OpenBLAS builds need these on some CPUs; they slow a current one down, so not for this run.
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const runs = [];
  for (const threads of [1, 2]) {
    for (const py of ['/usr/bin/python3', 'python3']) {
      const r = spawnSync(py, [script, '--threads', String(threads), '--reps', String(REPS)], {
        env,
        encoding: 'utf8',
      });
      if (r.status === 0) {
        runs.push(JSON.parse(r.stdout.trim().split('\n').at(-1)!));
        break;
      }
    }
  }
  if (runs.length === 0) return null;
  const oneThread = runs.find((r) => r.threads === 1) ?? null;
  return { ...runs.sort((x, y) => x.fullStepMs - y.fullStepMs)[0], oneThread };
}

/** The 1, 5 and 15 minute load averages (other jobs share the machine). */
function loadAverage(): number[] {
  const os = process.getBuiltinModule?.('node:os') as typeof import('node:os') | undefined;
  return os ? os.loadavg().map((x) => Math.round(x * 100) / 100) : [];
}

await initBackend();
const backendInfo = getBackendInfo();
console.log(
  `backend ${backendInfo.name}${backendInfo.native ? ` + native kernels (BLAS ${backendInfo.blas})` : ` (native kernels off: ${backendInfo.nativeReason})`}; model vocab ${CFG.vocabSize}, d_model ${CFG.dModel}, ${CFG.numLayers} layers, FFN ${CFG.dFF}, batch ${BATCH}×${CFG.maxLen}; median of ${REPS} (side-by-side steps: of ${PAIRED_REPS} rounds)`,
);

if (process.argv.includes('--profile') || process.argv.includes('--profile-only')) {
  for (const [label, make] of [
    ['full', freshModel],
    ['LinearAdapter', adapterModel],
    ['LoRA', loraModel],
  ] as const) {
    const model = make();
    await profileStep(label, model);
    model.dispose();
  }
}
if (process.argv.includes('--profile-only')) process.exit(0);

/** Full, LinearAdapter and LoRA steps measured in alternation (see {@link stepsSideBySide}). */
function trainingStepsSideBySide(): SideBySide {
  const models = [freshModel(), adapterModel(), loraModel()];
  try {
    return stepsSideBySide(models);
  } finally {
    for (const m of models) m.dispose();
  }
}

if (process.argv.includes('--steps-only')) {
  // Quick look while working on speed: the three step kinds side by side, nothing written.
  const r = trainingStepsSideBySide();
  console.log(
    `training steps side by side (wall / CPU): full ${r.wallMs[0]!.toFixed(0)} / ${r.cpuMs[0]!.toFixed(0)} ms, LinearAdapter ${r.wallMs[1]!.toFixed(0)} / ${r.cpuMs[1]!.toFixed(0)} ms (${r.wallRatio[1]!.toFixed(3)} / ${r.cpuRatio[1]!.toFixed(3)} × full), LoRA ${r.wallMs[2]!.toFixed(0)} / ${r.cpuMs[2]!.toFixed(0)} ms (${r.wallRatio[2]!.toFixed(3)} / ${r.cpuRatio[2]!.toFixed(3)} × full); load ${loadAverage().join(', ')}`,
  );
  process.exit(0);
}

// With native kernels: the full step with 1 and 2 BLAS threads (the faster is kept for the rest),
// and the same step on wasm without the addon, side by side.
const fullModel = freshModel();
const threadRuns: Record<string, number> = {};
let wasmFullStepMs: number | null = null;
let tfjsWasmFullStepMs: number | null = null;
let fullStepMs: number;
let fullStepCpuMs = NaN;
let wasmFullStepCpuMs = NaN;
if (nativeStatus().active) {
  for (const threads of [1, 2]) {
    activateNative({ threads });
    threadRuns[threads] = stepMs(fullModel);
    if (threads === 1) fullStepCpuMs = lastCpuMs;
  }
  const best = threadRuns[1]! <= threadRuns[2]! ? 1 : 2;
  // Without the addon, as browsers and Node without a compiler run it (the JavaScript kernels), and
  // with TensorFlow.js's own kernels alone.
  activateNative({ enabled: false });
  activateJsKernels();
  wasmFullStepMs = stepMs(fullModel);
  wasmFullStepCpuMs = lastCpuMs;
  activateJsKernels({ enabled: false });
  tfjsWasmFullStepMs = stepMs(fullModel);
  activateNative({ threads: best });
  fullStepMs = threadRuns[best]!;
} else {
  fullStepMs = stepMs(fullModel);
  wasmFullStepMs = fullStepMs;
  fullStepCpuMs = wasmFullStepCpuMs = lastCpuMs;
}
fullModel.dispose();
const native = nativeStatus();

// The adapter and LoRA ratios: the three kinds of step in alternation, at the thread count kept above.
const sideBySide = trainingStepsSideBySide();
const [, adapterStepMs, loraStepMs] = sideBySide.wallMs as [number, number, number];

const inference = disabledOverhead();
const routing = await benchRouting();
const kvCache = await benchKvCache();
const torch = torchStep();

const tokens = BATCH * CFG.maxLen;
const results = {
  backend: getBackendInfo().name,
  native: native.active,
  blas: native.blas,
  threads: native.active ? native.threads : 1,
  nativeFullStepMsByThreads: native.active ? threadRuns : null,
  model: { ...CFG, batch: BATCH },
  reps: REPS,
  pairedReps: PAIRED_REPS,
  fullStepMs,
  wasmFullStepMs,
  wasmFullStepVsNative: native.active ? wasmFullStepMs! / fullStepMs : null,
  tfjsWasmFullStepMs,
  adapterStepMs,
  loraStepMs,
  sideBySideFullStepMs: sideBySide.wallMs[0],
  adapterStepVsFull: sideBySide.wallRatio[1],
  loraStepVsFull: sideBySide.wallRatio[2],
  adapterStepVsFullCpu: sideBySide.cpuRatio[1],
  loraStepVsFullCpu: sideBySide.cpuRatio[2],
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
  torchLoraStepMs: torch?.loraStepMs ?? null,
  torchAdapterStepVsFull: torch ? torch.adapterStepMs / torch.fullStepMs : null,
  torchLoraStepVsFull: torch ? torch.loraStepMs / torch.fullStepMs : null,
  torchThreads: torch?.threads ?? null,
  fullStepVsTorch: torch ? fullStepMs / torch.fullStepMs : null,
  uptimeLoad: loadAverage(),
  fullStepCpuMs,
  wasmFullStepCpuMs,
  torchFullStepCpuMs1Thread: torch?.oneThread?.fullStepCpuMs ?? null,
  fullStepCpuVsTorch1Thread: torch?.oneThread ? fullStepCpuMs / torch.oneThread.fullStepCpuMs : null,
  adapterStepVsTorch: torch ? adapterStepMs / torch.adapterStepMs : null,
  loraStepVsTorch: torch ? loraStepMs / torch.loraStepMs : null,
  torchBlas: torch?.blas ?? 'not measured: python3-torch is not importable',
};
writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);

const ms = (x: number) => `${x.toFixed(0)} ms`;
if (native.active) {
  console.log(
    `full step with native kernels: 1 BLAS thread ${ms(threadRuns[1]!)}, 2 threads ${ms(threadRuns[2]!)} (using ${native.threads}); wasm without the addon ${ms(wasmFullStepMs!)} (${results.wasmFullStepVsNative!.toFixed(2)}× slower; ${ms(tfjsWasmFullStepMs!)} with TensorFlow.js's own kernels alone)`,
  );
}
console.log(
  `training steps side by side: full ${ms(sideBySide.wallMs[0]!)}, LinearAdapter ${ms(adapterStepMs)} (${results.adapterStepVsFull!.toFixed(2)}× full; CPU time ${results.adapterStepVsFullCpu!.toFixed(2)}×), LoRA ${ms(loraStepMs)} (${results.loraStepVsFull!.toFixed(2)}× full; CPU time ${results.loraStepVsFullCpu!.toFixed(2)}×)`,
);
console.log(
  `inference: no adapters ${ms(inference.plainMs)}, disabled adapters ${ms(inference.disabledMs)} (overhead ${(100 * inference.overhead).toFixed(2)} %)`,
);
console.log(
  `routing 8 LoRA adapters per row: ${ms(routing.perSampleMs)} = ${routing.perSampleVsSingle.toFixed(2)}× one adapter, ${routing.perSampleVsSubBatches.toFixed(2)}× 8 sub-batches in turn`,
);
console.log(
  `key/value cache: ${kvCache.perTokenMsAtPrefix8.toFixed(1)} ms/token at prefix 8, ${kvCache.perTokenMsAtPrefix120.toFixed(1)} at prefix 120 (ratio ${kvCache.kvCachePerTokenRatio.toFixed(2)}); uncached ${ms(kvCache.uncachedPerTokenMsAtPrefix120)} at 120`,
);
if (torch) {
  console.log(
    `PyTorch ${torch.threads} thread(s), BLAS ${torch.blas}: full ${ms(torch.fullStepMs)}, adapter ${ms(torch.adapterStepMs)} (${results.torchAdapterStepVsFull!.toFixed(2)}× full), LoRA ${ms(torch.loraStepMs)} (${results.torchLoraStepVsFull!.toFixed(2)}× full); adapterkit/PyTorch full ${results.fullStepVsTorch!.toFixed(2)}×, adapter ${results.adapterStepVsTorch!.toFixed(2)}×, LoRA ${results.loraStepVsTorch!.toFixed(2)}×`,
  );
} else {
  console.log(
    'PyTorch: skipped (python3-torch is not importable; `apt-get install python3-torch libopenblas0-pthread` to compare)',
  );
}
console.log(
  `CPU time per full step at one thread (steadier under load): adapterkit ${ms(fullStepCpuMs)}, wasm without the addon ${ms(wasmFullStepCpuMs)}${torch?.oneThread ? `, PyTorch ${ms(torch.oneThread.fullStepCpuMs)} → ${results.fullStepCpuVsTorch1Thread!.toFixed(2)}×` : ''}`,
);
console.log(`load average during the run: ${results.uptimeLoad.join(', ')}`);
console.log('wrote bench/results.json');
