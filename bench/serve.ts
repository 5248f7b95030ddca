/**
 * `npm run bench:serve`: load test of `adapterkit serve` on loopback.
 *
 * The shipped Moby-Dick character model (0.83 M parameters, context 128) is served from a child
 * process (`adapterkit serve`, wasm backend) over a temporary store of 64 LoRA adapters (r 8, alpha
 * 16, on q_proj and v_proj, non-zero B so every adapter does real work). For 1, 8 and 64 distinct
 * adapters, `CLIENTS` (default 64) closed-loop clients each send `ROUNDS` (default 2) completion
 * requests one after another (prompt of 16 characters, 32 tokens, temperature 1); client i uses
 * adapter i mod N. Adapters are loaded before a case starts, so the figures are steady-state serving.
 *
 * Per case: generated tokens per second over the case's wall time, p50 and p99 request latency, and
 * the tensor bytes per resident adapter (from the server's `/metrics`). Writes bench/serve.json with
 * `throughput64Vs1` = tokens/s with 64 adapters / with 1, and prints a Markdown table for the README.
 * Bounded: a fixed number of requests per case, and a 10-minute limit on the whole run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/backend/backend.js';
import '../src/index.js';
import { PeftModel } from '../src/adapters/index.js';
import { DEFAULT_BASE_DIR, loadBaseModel } from '../src/cli/base-model.js';
import { savePretrained } from '../src/io/peft.js';
import { manualSeed } from '../src/rng.js';
import { FsAdapterStore } from '../src/store/index.js';

const CLIENTS = Number(process.env.BENCH_SERVE_CLIENTS ?? 64);
const ROUNDS = Number(process.env.BENCH_SERVE_ROUNDS ?? 2);
const MAX_TOKENS = 32;
const CASES = [1, 8, 64];
const LIMIT_MS = 10 * 60_000;
const PROMPTS = [
  'Call me Ishmael.',
  'The whale, the w',
  'It was the Pequo',
  'Queequeg and I w',
  'Starbuck looked ',
  'Ahab stood upon ',
];

interface CaseResult {
  adapters: number;
  requests: number;
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  memoryPerAdapterBytes: number;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/** Puts `n` LoRA adapters for the base model into a fresh store; returns its directory. */
async function makeStore(n: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'adapterkit-bench-store-'));
  const store = new FsAdapterStore(dir);
  const { model } = await loadBaseModel();
  const cfg = {
    type: 'lora' as const,
    r: 8,
    loraAlpha: 16,
    targetModules: ['q_proj', 'v_proj'],
    initLoraWeights: false,
  };
  manualSeed(0);
  const peft = PeftModel.wrap(model, cfg, { adapterName: 'a0' });
  for (let i = 0; i < n; i++) {
    const name = `a${i}`;
    if (i > 0) peft.addAdapter(name, cfg);
    const files: Record<string, Uint8Array> = {};
    await savePretrained(
      peft,
      {
        writeFile: (p, d) =>
          void (files[`peft/${p.replace(`${name}/`, '')}`] =
            typeof d === 'string' ? new TextEncoder().encode(d) : d),
      },
      { selectedAdapters: [name] },
    );
    await store.put({
      name: `adapter-${i}`,
      jobId: null,
      kind: 'lora',
      format: 'peft',
      base: { name: 'mobydick-char-lm', config: model.cfg },
      config: cfg,
      metrics: {},
      files,
    });
  }
  peft.dispose();
  return dir;
}

/** Starts `adapterkit serve` in a child process; resolves with its URL. */
function startServer(store: string): Promise<{ url: string; child: ChildProcess }> {
  const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      main,
      'serve',
      '--base',
      DEFAULT_BASE_DIR,
      '--store',
      store,
      '--port',
      '0',
      '--max-loras',
      '64',
      '--max-batch',
      '64',
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, child });
    });
    child.once('exit', (code) => reject(new Error(`adapterkit serve exited with ${code} before listening`)));
  });
}

/** The part of a server reply the benchmark reads. */
interface Reply {
  usage?: { completion_tokens: number };
}

async function post(url: string, body: unknown): Promise<Reply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Reply;
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function runCase(url: string, adapters: number, deadline: number): Promise<CaseResult> {
  const names = Array.from({ length: adapters }, (_, i) => `adapter-${i}`);
  for (const n of names) await post(`${url}/v1/load_lora_adapter`, { lora_name: n });
  // Warm-up: one request per adapter in parallel (kernels, masks, routing paths).
  await Promise.all(
    names.map((n, i) =>
      post(`${url}/v1/completions`, {
        model: n,
        prompt: PROMPTS[i % PROMPTS.length],
        max_tokens: 4,
        seed: i,
      }),
    ),
  );
  const latencies: number[] = [];
  let tokens = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let r = 0; r < ROUNDS && performance.now() < deadline; r++) {
        const start = performance.now();
        const res = await post(`${url}/v1/completions`, {
          model: names[c % adapters],
          prompt: PROMPTS[(c + r) % PROMPTS.length],
          max_tokens: MAX_TOKENS,
          seed: c * 1000 + r,
        });
        latencies.push(performance.now() - start);
        tokens += res.usage!.completion_tokens;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const bytes = await metric(url, 'adapterkit_resident_adapter_bytes');
  const resident = await metric(url, 'adapterkit_resident_adapters');
  for (const n of names) await post(`${url}/v1/unload_lora_adapter`, { lora_name: n });
  return {
    adapters,
    requests: latencies.length,
    tokens,
    seconds,
    tokensPerSecond: tokens / seconds,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    memoryPerAdapterBytes: Math.round(bytes / resident),
  };
}

async function main(): Promise<void> {
  await initBackend();
  const deadline = performance.now() + LIMIT_MS;
  const store = await makeStore(Math.max(...CASES));
  const { url, child } = await startServer(store);
  const cases: CaseResult[] = [];
  try {
    for (const n of CASES) {
      const c = await runCase(url, n, deadline);
      cases.push(c);
      console.log(
        `${n} adapter(s): ${c.tokensPerSecond.toFixed(1)} tokens/s, p50 ${c.p50Ms.toFixed(0)} ms, p99 ${c.p99Ms.toFixed(0)} ms, ${(c.memoryPerAdapterBytes / 1024).toFixed(1)} KiB per adapter (${c.requests} requests, ${c.seconds.toFixed(1)} s)`,
      );
    }
  } finally {
    child.kill('SIGTERM');
    await rm(store, { recursive: true, force: true });
  }
  const one = cases.find((c) => c.adapters === 1)!;
  const many = cases.find((c) => c.adapters === 64)!;
  const result = {
    model: 'mobydick-char-lm (d 128, 4 layers, context 128)',
    adapter: 'LoRA r 8 on q_proj, v_proj',
    clients: CLIENTS,
    rounds: ROUNDS,
    maxTokens: MAX_TOKENS,
    cases,
    throughput64Vs1: many.tokensPerSecond / one.tokensPerSecond,
  };
  await writeFile(new URL('./serve.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`throughput 64 adapters / 1 adapter: ${result.throughput64Vs1.toFixed(2)}`);
  console.log(
    '\n| distinct adapters | tokens/s | p50 latency | p99 latency | memory per resident adapter |\n|---|---|---|---|---|',
  );
  for (const c of cases) {
    console.log(
      `| ${c.adapters} | ${c.tokensPerSecond.toFixed(1)} | ${c.p50Ms.toFixed(0)} ms | ${c.p99Ms.toFixed(0)} ms | ${(c.memoryPerAdapterBytes / 1024).toFixed(1)} KiB |`,
    );
  }
  console.log('wrote bench/serve.json');
}

await main();
