/**
 * Per-sample LoRA routing cost (SPEC §4.5), on the benchmark model of TFJS-NOTES: a CharLM with
 * vocabulary 96, d_model 256, 4 layers, 4 heads, FFN 1024, wrapped with 8 LoRA adapters (r 8,
 * alpha 16, on q_proj and v_proj), batch 16 × 128 tokens, eval mode:
 *
 * - (a) `perSampleMs`: one forward with the 8 adapters routed per row (2 rows each);
 * - (b) `singleAdapterMs`: the same batch with one adapter active;
 * - (c) `subBatchesMs`: the 8 two-row sub-batches run one after another, each with its adapter.
 *
 * Each figure is the median of `BENCH_REPS` (default 5) repetitions after two warm-up runs; the three
 * measurements are interleaved so that drifting machine load hits them alike. Ratios: a/b and a/c.
 *
 * Run alone with `npx tsx bench/routing.ts` (prints JSON); `bench/run.ts` calls {@link benchRouting}.
 * The backend is whatever is active (run alone: the library default, wasm in Node).
 */
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/backend/backend.js';
import { tf, type Tensor } from '../src/backend/tf.js';
import '../src/index.js';
import { PeftModel } from '../src/adapters/index.js';
import { CharLM } from '../src/models/char-lm.js';
import { manualSeed } from '../src/rng.js';

/** What {@link benchRouting} measures (milliseconds, and ratios of them). */
export interface RoutingBenchResult {
  /** (a) One forward, 8 adapters routed per row. */
  perSampleMs: number;
  /** (b) The same batch with a single adapter active. */
  singleAdapterMs: number;
  /** (c) 8 sub-batches of 2 rows, one after another, each with its adapter. */
  subBatchesMs: number;
  /** a / b. */
  perSampleVsSingle: number;
  /** a / c. */
  perSampleVsSubBatches: number;
}

const ADAPTERS = 8;
const BATCH = 16;
const SEQ = 128;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timeMs(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

/**
 * Measures per-sample routing of 8 LoRA adapters against one adapter for the whole batch and against
 * running each adapter's rows as its own sub-batch. Uses the active TensorFlow.js backend; frees
 * every tensor it creates.
 */
export async function benchRouting(opts: { reps?: number } = {}): Promise<RoutingBenchResult> {
  const reps = opts.reps ?? Number(process.env.BENCH_REPS ?? 5);
  manualSeed(0);
  const lm = new CharLM({ vocabSize: 96, dModel: 256, numLayers: 4, nHead: 4, dFF: 1024, maxLen: 128 });
  const names = Array.from({ length: ADAPTERS }, (_, i) => `task${i}`);
  // initLoraWeights: false gives non-zero B, so every branch does real work.
  const cfg = {
    type: 'lora' as const,
    r: 8,
    loraAlpha: 16,
    targetModules: ['q_proj', 'v_proj'],
    initLoraWeights: false,
  };
  const peft = PeftModel.wrap(lm, cfg, { adapterName: names[0]! });
  for (const n of names.slice(1)) peft.addAdapter(n, cfg);
  peft.eval();

  const ids = tf.randomUniform([BATCH, SEQ], 0, 96, 'int32', 7);
  const rowAdapter = Array.from({ length: BATCH }, (_, i) => names[i % ADAPTERS]!); // 2 rows each, interleaved
  const rowsOf = names.map((n) => rowAdapter.flatMap((a, i) => (a === n ? [i] : [])));
  const rowIdx = rowsOf.map((rows) => tf.tensor1d(rows, 'int32'));

  const perSample = () =>
    tf.tidy(() => void (peft.forward(ids, { adapterNames: rowAdapter }) as Tensor).dataSync());
  const single = () => {
    peft.setActiveAdapters([names[0]!]);
    tf.tidy(() => void (peft.forward(ids) as Tensor).dataSync());
  };
  const subBatches = () => {
    names.forEach((n, k) => {
      peft.setActiveAdapters([n]);
      tf.tidy(() => void (peft.forward(tf.gather(ids, rowIdx[k]!)) as Tensor).dataSync());
    });
  };

  for (let i = 0; i < 2; i++) {
    perSample();
    single();
    subBatches();
  }
  const a: number[] = [];
  const b: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < reps; i++) {
    // Rotate the order so drifting load hits all three alike.
    const runs: Array<() => void> = [
      () => a.push(timeMs(perSample)),
      () => b.push(timeMs(single)),
      () => c.push(timeMs(subBatches)),
    ];
    for (let j = 0; j < 3; j++) runs[(i + j) % 3]!();
  }
  ids.dispose();
  for (const t of rowIdx) t.dispose();
  peft.dispose();

  const perSampleMs = median(a);
  const singleAdapterMs = median(b);
  const subBatchesMs = median(c);
  return {
    perSampleMs,
    singleAdapterMs,
    subBatchesMs,
    perSampleVsSingle: perSampleMs / singleAdapterMs,
    perSampleVsSubBatches: perSampleMs / subBatchesMs,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await initBackend();
  console.log(JSON.stringify(await benchRouting(), null, 2));
}
