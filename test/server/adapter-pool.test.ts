import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { AdapterError } from '../../src/errors.js';
import { CharLM } from '../../src/models/char-lm.js';
import type { CachedInput } from '../../src/models/kv-cache.js';
import { manualSeed } from '../../src/rng.js';
import { AdapterPool } from '../../src/server/adapter-pool.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { FsAdapterStore } from '../../src/store/index.js';
import { tempDir, tinyConfig, writeStoreAdapter } from './fixtures.js';

/** A metric's current value from the registry. */
async function value(metrics: ServerMetrics, name: string): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)!.get();
  return m.values[0]?.value ?? 0;
}

describe('AdapterPool', () => {
  let storeDir: string;
  let model: CharLM;

  beforeAll(async () => {
    storeDir = await tempDir('pool');
    for (const [name, seed] of [
      ['a', 2],
      ['b', 3],
      ['c', 4],
    ] as const)
      await writeStoreAdapter(storeDir, name, seed);
    manualSeed(1);
    model = new CharLM(tinyConfig());
  });
  afterAll(() => model?.dispose());

  const pool = (maxLoras: number, maxCpuLoras: number) => {
    const metrics = new ServerMetrics();
    return {
      metrics,
      pool: new AdapterPool({ model, store: new FsAdapterStore(storeDir), maxLoras, maxCpuLoras, metrics }),
    };
  };

  it('keeps at most maxLoras resident, evicting the least recently used idle one', async () => {
    const { pool: p, metrics } = pool(2, 0);
    await p.load('a');
    await p.load('b');
    expect(p.residentNames()).toEqual(['a', 'b']);
    await p.acquire('a'); // a is now the most recent
    p.release('a');
    await p.load('c');
    expect(p.residentNames()).toEqual(['a', 'c']);
    expect(await value(metrics, 'adapterkit_adapter_evictions_total')).toBe(1);
    expect(await value(metrics, 'adapterkit_adapter_loads_total')).toBe(3);
    expect(await value(metrics, 'adapterkit_adapter_cache_hits_total')).toBe(1);
    expect(await value(metrics, 'adapterkit_resident_adapters')).toBe(2);
    expect([...p.residentBytes().values()].every((bytes) => bytes > 0)).toBe(true);
    p.dispose();
    expect(p.residentNames()).toEqual([]);
  });

  it('defers unloading an adapter until its last request ends; an unknown one names the loaded ones', async () => {
    const { pool: p } = pool(2, 0);
    await p.acquire('a');
    expect(p.unload('a')).toEqual({ deferred: true });
    expect(p.residentNames()).toEqual(['a']);
    p.release('a');
    expect(p.residentNames()).toEqual([]);
    await p.load('b');
    let err: unknown;
    try {
      p.unload('zzz');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).code).toBe('UNKNOWN_ADAPTER');
    expect((err as AdapterError).message).toBe("adapter 'zzz' is not loaded; loaded: b");
    p.dispose();
  });

  it('a request waits for a slot while every resident adapter is pinned', async () => {
    const { pool: p } = pool(1, 0);
    await p.acquire('a');
    let got = false;
    const waiting = p.acquire('b').then(() => (got = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toBe(false);
    p.release('a');
    await waiting;
    expect(p.residentNames()).toEqual(['b']);
    p.release('b');
    p.dispose();
  });

  it('re-attaches an evicted adapter from the verified files kept in memory', async () => {
    const { pool: p, metrics } = pool(1, 2);
    await p.load('a');
    await p.load('b'); // evicts a, whose files stay in memory
    await p.load('a');
    expect(p.residentNames()).toEqual(['a']);
    expect(await value(metrics, 'adapterkit_adapter_cpu_cache_hits_total')).toBe(1);
    p.dispose();
  });

  it('routes rows to their adapters; with none resident the base model answers, and no tensors leak', async () => {
    const { pool: p } = pool(2, 0);
    const ids = tf.tensor2d([[1, 2, 3]], [1, 3], 'int32');
    const plain = tf.tidy(() => p.forward(ids as unknown as CachedInput, [null]));
    await p.load('a');
    const before = tf.memory().numTensors;
    const routed = tf.tidy(() => p.forward(ids as unknown as CachedInput, ['a']));
    const base = tf.tidy(() => p.forward(ids as unknown as CachedInput, [null]));
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(Array.from(base.dataSync())).toEqual(Array.from(plain.dataSync()));
    expect(Array.from(routed.dataSync())).not.toEqual(Array.from(plain.dataSync()));
    tf.dispose([ids, plain, routed, base]);
    p.dispose();
  });
});
