/**
 * Per-token cost of key/value-cached decoding against the prefix length, on the benchmark model of
 * TFJS-NOTES (vocabulary 96, d_model 256, 4 layers, 4 heads, FFN 1024, context 128), batch 1, eval
 * mode: a cache is filled with a prefix of 8 or 120 tokens, then `TOKENS` single-token steps are
 * timed (the logits read back each step, as sampling does). `kvCachePerTokenRatio` = per-token time
 * at prefix 120 / at prefix 8; 1 means the cost does not grow with the prefix.
 *
 * The two prefixes are measured in alternation, `BENCH_REPS` (default 5) times each after a warm-up,
 * and the medians compared, so that drifting machine load hits both alike.
 *
 * Run alone with `npx tsx bench/kv-cache.ts` (prints JSON); `bench/run.ts` calls {@link benchKvCache}.
 */
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/backend/backend.js';
import { tf } from '../src/backend/tf.js';
import '../src/index.js';
import { CharLM } from '../src/models/char-lm.js';
import { manualSeed } from '../src/rng.js';

/** What {@link benchKvCache} measures. */
export interface KvCacheBenchResult {
  /** Median per-token time of a cached step after a prefix of 8 tokens. */
  perTokenMsAtPrefix8: number;
  /** The same after a prefix of 120 tokens. */
  perTokenMsAtPrefix120: number;
  /** perTokenMsAtPrefix120 / perTokenMsAtPrefix8 (target ≤ 1.2). */
  kvCachePerTokenRatio: number;
  /** Per-token time of today's uncached path at prefix 120 (the whole window recomputed). */
  uncachedPerTokenMsAtPrefix120: number;
}

const TOKENS = 8;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median-of-reps per-token times of cached decoding at prefixes 8 and 120; frees what it creates. */
export async function benchKvCache(opts: { reps?: number } = {}): Promise<KvCacheBenchResult> {
  const reps = opts.reps ?? Number(process.env.BENCH_REPS ?? 5);
  manualSeed(0);
  const lm = new CharLM({ vocabSize: 96, dModel: 256, numLayers: 4, nHead: 4, dFF: 1024, maxLen: 128 });
  lm.eval();
  const prefix = (n: number) => Array.from({ length: n }, (_, i) => (i * 7) % 96);

  /** Per-token ms of TOKENS cached steps after a prefix of `n`. */
  const cached = (n: number): number => {
    const cache = lm.newCache();
    try {
      tf.tidy(
        () => void lm.forward({ ids: tf.tensor2d(prefix(n), [1, n], 'int32'), caches: [cache] }).dataSync(),
      );
      const t0 = performance.now();
      for (let i = 0; i < TOKENS; i++) {
        tf.tidy(
          () => void lm.forward({ ids: tf.tensor2d([i % 96], [1, 1], 'int32'), caches: [cache] }).dataSync(),
        );
      }
      return (performance.now() - t0) / TOKENS;
    } finally {
      cache.dispose();
    }
  };
  const uncached = (n: number): number => {
    const ids = tf.tensor2d(prefix(n), [1, n], 'int32');
    const t0 = performance.now();
    for (let i = 0; i < 2; i++) tf.tidy(() => void lm.forward(ids).dataSync());
    ids.dispose();
    return (performance.now() - t0) / 2;
  };

  cached(8);
  cached(120);
  const at8: number[] = [];
  const at120: number[] = [];
  for (let r = 0; r < reps; r++) {
    at8.push(cached(8));
    at120.push(cached(120));
  }
  const uncachedMs = uncached(120);
  lm.dispose();
  const p8 = median(at8);
  const p120 = median(at120);
  return {
    perTokenMsAtPrefix8: p8,
    perTokenMsAtPrefix120: p120,
    kvCachePerTokenRatio: p120 / p8,
    uncachedPerTokenMsAtPrefix120: uncachedMs,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await initBackend();
  console.log(JSON.stringify(await benchKvCache(), null, 2));
}
