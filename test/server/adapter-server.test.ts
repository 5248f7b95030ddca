/**
 * The multi-adapter server on loopback with a tiny base model and LoRA adapters in a temporary store:
 * batched answers equal answers served alone, 4xx errors, streaming, hot load/unload under load, store
 * validation, and two servers sharing one store.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../src/index.js';
import { tf } from '../../src/backend/tf.js';
import { loadBaseModel } from '../../src/cli/base-model.js';
import { AdapterServer, type AdapterServerOptions } from '../../src/server/index.js';
import { FsAdapterStore } from '../../src/store/index.js';
import { complete, post, tempDir, writeBaseModel, writeStoreAdapter } from './fixtures.js';

let baseDir: string;
let store: string;

async function startServer(extra: Partial<AdapterServerOptions> = {}): Promise<AdapterServer> {
  const { model, vocab } = await loadBaseModel(baseDir);
  return AdapterServer.start({ model, vocab, baseName: 'tiny', store, ...extra });
}

beforeAll(async () => {
  baseDir = await tempDir('base');
  store = await tempDir('store');
  await mkdir(join(store, 'adapters'), { recursive: true });
  await writeBaseModel(baseDir);
  for (const [i, n] of ['a', 'b', 'c'].entries()) await writeStoreAdapter(store, n, 10 + i);
});

describe('AdapterServer', () => {
  let server: AdapterServer;
  beforeAll(async () => {
    server = await startServer({ maxLoras: 4 });
  });
  afterAll(async () => server.close());

  it('a request batched with others for different adapters gets the same tokens as served alone', async () => {
    const reqs = [
      { model: 'a', prompt: 'the ', max_tokens: 12, seed: 1 },
      { model: 'b', prompt: 'quick brown ', max_tokens: 9, seed: 2, temperature: 0.7 },
      { model: 'tiny', prompt: 'fox', max_tokens: 15, seed: 3 },
      { model: 'a', prompt: 'lazy dog', max_tokens: 6, seed: 4, temperature: 0 },
      { model: 'c', prompt: 'o', max_tokens: 11, seed: 5 },
    ];
    const alone: string[] = [];
    for (const r of reqs) alone.push(await complete(server.url, r));
    const together = await Promise.all(reqs.map((r) => complete(server.url, r)));
    expect(together).toEqual(alone);
    // The adapters really differ, and the concurrent run really shared decoding steps.
    expect(await complete(server.url, { ...reqs[0]!, model: 'b' })).not.toEqual(alone[0]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const single = Number(/adapterkit_decode_batch_size_bucket\{le="1"\} (\d+)/.exec(metrics)![1]);
    const steps = Number(/adapterkit_decode_batch_size_count (\d+)/.exec(metrics)![1]);
    expect(steps).toBeGreaterThan(single);
    expect(metrics).toMatch(/adapterkit_adapter_cache_hits_total \d+/);
    expect(metrics).toMatch(/adapterkit_request_latency_seconds_count \d+/);
  });

  it('streams server-sent events whose text equals the non-streamed answer', async () => {
    const body = { model: 'b', prompt: 'the ', max_tokens: 8, seed: 7 };
    const whole = await complete(server.url, body);
    const res = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ ...body, stream: true }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = (await res.text())
      .split('\n\n')
      .filter(Boolean)
      .map((e) => e.replace(/^data: /, ''));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.choices[0].text).join('')).toBe(whole);
    expect(chunks.at(-1).choices[0].finish_reason).toBe('length');
  });

  it('answers bad requests with a 4xx JSON error naming the problem', async () => {
    const url = `${server.url}/v1/completions`;
    const cases: Array<[unknown, number, string, string]> = [
      [{ model: 'nope', prompt: 'the' }, 404, 'model_not_found', 'nope'],
      [{ model: '../a', prompt: 'the' }, 404, 'model_not_found', '../a'],
      ['{"model": "a", "prompt": ', 400, 'invalid_json', 'not valid JSON'],
      [{ model: 'a', prompt: 'the', max_tokens: 100 }, 400, 'context_length_exceeded', 'max_tokens (100)'],
      [
        { model: 'a', prompt: 'x'.repeat(60), max_tokens: 1 },
        400,
        'context_length_exceeded',
        'context of 48',
      ],
      [{ model: 'a', prompt: '' }, 400, 'invalid_prompt', 'empty'],
      [{ model: 'a', prompt: 'the', max_tokens: 0 }, 400, 'invalid_request', 'max_tokens'],
      [{ model: 'a', prompt: 'the', temperature: 'hot' }, 400, 'invalid_request', 'temperature'],
      [{ model: 'a', prompt: 'the', top_k: 3 }, 400, 'invalid_request', "'top_k'"],
      [{ prompt: 'the' }, 400, 'invalid_request', 'model'],
    ];
    for (const [body, status, code, text] of cases) {
      const r = await post(url, body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.json.error!.code).toBe(code);
      expect(r.json.error!.message).toContain(text);
      expect(typeof r.json.error!.type).toBe('string');
    }
    const unload = await post(`${server.url}/v1/unload_lora_adapter`, { lora_name: 'zz' });
    expect(unload.status).toBe(404);
    expect(unload.json.error!.message).toContain("'zz' is not loaded");
    const load = await post(`${server.url}/v1/load_lora_adapter`, { lora_name: 'zz' });
    expect(load.status).toBe(404);
    const route = await fetch(`${server.url}/v2/nothing`);
    expect(route.status).toBe(404);
    expect((await route.json()).error.code).toBe('not_found');
    expect((await fetch(`${server.url}/v1/completions`)).status).toBe(405);
  });

  it('lists the base model and the store adapters, marking the resident ones', async () => {
    await post(`${server.url}/v1/load_lora_adapter`, { lora_name: 'c' });
    const list = await (await fetch(`${server.url}/v1/models`)).json();
    expect(list.data.map((m: { id: string }) => m.id)).toEqual(['tiny', 'a', 'b', 'c']);
    expect(list.data.find((m: { id: string }) => m.id === 'c').loaded).toBe(true);
    expect(list.data.find((m: { id: string }) => m.id === 'tiny').parent).toBe(null);
  });
});

describe('AdapterServer under load', () => {
  it('hot loading and unloading adapters while requests run loses no request, with at most maxLoras resident', async () => {
    const server = await startServer({ maxLoras: 2, maxCpuLoras: 1, maxBatch: 6 });
    try {
      const names = ['a', 'b', 'c', 'tiny'];
      const reqs = Array.from({ length: 24 }, (_, i) => ({
        model: names[i % 4]!,
        prompt: 'the ',
        max_tokens: 6 + (i % 5),
        seed: i,
      }));
      // Reference answers, one at a time.
      const expected: string[] = [];
      for (const r of reqs) expected.push(await complete(server.url, r));
      const tensorsBefore = tf.memory().numTensors;
      let churning = true;
      const churn = (async () => {
        let k = 0;
        while (churning) {
          const n = ['a', 'b', 'c'][k++ % 3]!;
          const l = await post(`${server.url}/v1/load_lora_adapter`, { lora_name: n });
          expect([200, 404]).toContain(l.status);
          const u = await post(`${server.url}/v1/unload_lora_adapter`, { lora_name: n });
          expect([200, 404]).toContain(u.status); // 404: evicted meanwhile by a request's load
          expect(server.pool.residentNames().length).toBeLessThanOrEqual(2);
        }
      })();
      const got = await Promise.all(reqs.map((r) => complete(server.url, r)));
      churning = false;
      await churn;
      expect(got).toEqual(expected);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(Number(/adapterkit_adapter_evictions_total (\d+)/.exec(metrics)![1])).toBeGreaterThan(0);
      // Everything unloaded: the resident tensors are back to where they were (no cache leaks).
      for (const n of server.pool.residentNames()) server.pool.unload(n);
      for (const n of ['a', 'b', 'c']) await server.pool.load(n).then(() => server.pool.unload(n));
      expect(tf.memory().numTensors).toBeLessThanOrEqual(tensorsBefore);
    } finally {
      await server.close();
    }
  });

  it('refuses a store adapter whose file does not match its manifest hash (422), and serves it once repaired', async () => {
    const server = await startServer();
    try {
      await writeStoreAdapter(store, 'bad', 42);
      await writeFile(join(store, 'adapters', 'bad', 'peft', 'adapter_config.json'), '{"peft_type": "LORA"}');
      const r = await post(`${server.url}/v1/completions`, { model: 'bad', prompt: 'the', max_tokens: 2 });
      expect(r.status).toBe(422);
      expect(r.json.error!.code).toBe('invalid_adapter');
      expect(r.json.error!.message).toContain('sha256');
      await new FsAdapterStore(store).delete('bad');
      await writeStoreAdapter(store, 'bad', 42);
      await complete(server.url, { model: 'bad', prompt: 'the', max_tokens: 2 });
    } finally {
      await server.close();
    }
  });
});

describe('two servers, one store', () => {
  it('both serve an adapter written to the store after they started, with the same tokens', async () => {
    const one = await startServer();
    const two = await startServer();
    try {
      expect(one.url).not.toBe(two.url);
      const body = { model: 'fresh', prompt: 'over ', max_tokens: 10, seed: 9 };
      expect((await post(`${one.url}/v1/completions`, body)).status).toBe(404);
      await writeStoreAdapter(store, 'fresh', 77);
      const [x, y] = await Promise.all([complete(one.url, body), complete(two.url, body)]);
      expect(y).toBe(x);
      for (const s of [one, two]) {
        const list = await (await fetch(`${s.url}/v1/models`)).json();
        expect(list.data.map((m: { id: string }) => m.id)).toContain('fresh');
      }
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });
});
