/**
 * Training jobs end to end on a real redis-server: three worker processes, twenty small jobs, one
 * worker killed mid-job (with its sandboxed child), an invalid job.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobClient } from '../../src/jobs/client.js';
import type { TrainJobInput } from '../../src/jobs/payload.js';
import type { TrainJobResult } from '../../src/jobs/train-job.js';
import { FsAdapterStore } from '../../src/store/fs-store.js';
import { writeTinyBase } from './fixtures.js';
import { requireRedis, startRedis, type RedisHandle } from './redis-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const haveRedis = requireRedis('queue tests');

/** One JSON line a worker printed, as far as the tests read it. */
interface WorkerEvent {
  event: string;
  id?: string;
  progress?: { step: number; steps: number; checkpointedStep: number };
}

/** A worker process and the JSON events it printed. */
interface WorkerProc {
  proc: ChildProcess;
  events: WorkerEvent[];
  output: string;
  /** Called synchronously for each event as it arrives, before anything else runs. */
  onEvent?: (e: WorkerEvent) => void;
}

function spawnWorker(redis: string, store: string): WorkerProc {
  // Its own process group, so killing the group takes the sandboxed child with it, as a machine failure would.
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--redis', redis, '--store', store, '--lock-ms', '4000'],
    {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const w: WorkerProc = { proc, events: [], output: '' };
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let e: WorkerEvent;
      try {
        e = JSON.parse(line) as WorkerEvent;
      } catch {
        w.output += `${line}\n`;
        continue;
      }
      w.events.push(e);
      w.onEvent?.(e);
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (w.output += d.toString()));
  return w;
}

async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function killGroup(w: WorkerProc, signal: NodeJS.Signals): void {
  try {
    process.kill(-w.proc.pid!, signal);
  } catch {
    // already gone
  }
}

describe.skipIf(!haveRedis)('training jobs on a real redis-server', () => {
  let redis: RedisHandle;
  let dir: string;
  let client: JobClient;
  let store: FsAdapterStore;
  const workers: WorkerProc[] = [];
  let base: string;
  let text: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adapterkit-queue-'));
    ({ base, text } = await writeTinyBase(dir));
    redis = await startRedis();
    client = new JobClient(redis.url);
    store = new FsAdapterStore(join(dir, 'store'));
  });

  afterAll(async () => {
    for (const w of workers) killGroup(w, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    for (const w of workers) killGroup(w, 'SIGKILL');
    await client?.close();
    await redis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const job = (i: number): TrainJobInput => ({
    name: `tenant-${String(i).padStart(2, '0')}`,
    base,
    data: text,
    method:
      i % 2 === 0 ? { kind: 'lora', r: 2, targetModules: ['q_proj', 'v_proj'] } : { kind: 'linear', dim: 4 },
    training: { steps: 8, batch: 2, seqLen: 8, checkpointEvery: 2, evalWindows: 2 },
    seed: i,
  });

  it('twenty jobs on three workers, one SIGKILLed mid-job: each completes once, one valid adapter per job; an invalid job fails without retries', async () => {
    for (let i = 0; i < 3; i++) workers.push(spawnWorker(redis.url, store.root));
    await waitFor(
      'three ready workers',
      () => workers.every((w) => w.events.some((e) => e.event === 'ready')),
      90_000,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${workers.map((w) => w.output).join('\n---\n')}`);
    });

    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await client.submit(job(i), { attempts: 3, backoffMs: 500 }));
    const invalidId = await client.submit(
      { ...job(99), name: 'invalid', data: 'no-such-dataset' },
      { attempts: 3, backoffMs: 500 },
    );

    // Kill worker 0 (and its sandboxed child) in the middle of a job that has a checkpoint. A tiny
    // job can finish between its progress report and any kill, so the worker is frozen (SIGSTOP) the
    // moment it reports a checkpoint, then killed only if its job is still unfinished; otherwise it
    // is resumed and the next job is tried.
    const victim = workers[0]!;
    const frozen: string[] = [];
    victim.onEvent = (e) => {
      const p = e.progress;
      if (e.event === 'progress' && p && p.checkpointedStep >= 2 && p.step < p.steps && !frozen.length) {
        killGroup(victim, 'SIGSTOP');
        frozen.push(String(e.id));
      }
    };
    let killedJob: string | undefined;
    await waitFor(
      'worker 0 frozen in the middle of a checkpointed job',
      async () => {
        const id = frozen[0];
        if (id === undefined) return false;
        const checkpoints = await readdir(join(store.root, '.checkpoints', id)).catch(() => []);
        if (checkpoints.length > 0 && !(await store.has(job(ids.indexOf(id)).name))) {
          killedJob = id;
          killGroup(victim, 'SIGKILL');
          victim.onEvent = undefined;
          return true;
        }
        frozen.length = 0;
        killGroup(victim, 'SIGCONT');
        return false;
      },
      90_000,
    );

    await waitFor(
      'every job to finish',
      async () => {
        const states = await Promise.all(
          [...ids, invalidId].map(async (id) => (await client.status(id))!.state),
        );
        return states.every((s) => s === 'completed' || s === 'failed');
      },
      150_000,
    );

    for (const id of ids) {
      const s = (await client.status(id))!;
      expect(s.state, `job ${id}: ${s.failedReason ?? ''}`).toBe('completed');
    }
    // Exactly one adapter per job, each verified against its manifest and produced by its own job.
    const manifests = await store.list();
    expect(manifests.map((m) => m.name)).toEqual(Array.from({ length: 20 }, (_, i) => job(i).name).sort());
    for (const m of manifests) {
      const s = (await client.status(m.jobId!))!;
      expect(s.adapter).toBe(m.name);
      const { files } = await store.get(m.name);
      expect(Object.keys(files)).toEqual(
        m.format === 'peft'
          ? ['peft/adapter_config.json', 'peft/adapter_model.safetensors']
          : ['adapter.safetensors'],
      );
      expect(m.metrics.heldOutBpc).toBeGreaterThan(0);
    }
    expect((await readdir(store.adaptersDir)).filter((n) => !n.startsWith('.'))).toHaveLength(20);
    // The killed worker's job was taken over and resumed from its checkpoint instead of restarting.
    const killed = (await client.status(killedJob!))!;
    expect((killed.returnValue as TrainJobResult).resumedFromStep).toBeGreaterThanOrEqual(2);
    // Completed once: no surviving worker reported completing a job twice.
    const completions = workers
      .slice(1)
      .flatMap((w) => w.events.filter((e) => e.event === 'completed').map((e) => String(e.id)));
    expect(new Set(completions).size).toBe(completions.length);

    const invalid = (await client.status(invalidId))!;
    expect(invalid.state).toBe('failed');
    expect(invalid.attemptsMade).toBe(1);
    expect(invalid.failedReason).toMatch(/no-such-dataset.*neither a built-in dataset \(mobydick, sotu\)/);
  });

  it('the flow train → evaluate → export writes a PEFT directory after training and evaluation complete', async () => {
    const out = join(dir, 'exported');
    const flow = await client.submitFlow(
      { ...job(50), name: 'flowed', method: { kind: 'lora', r: 2, targetModules: ['q_proj'] } },
      out,
      { attempts: 2, backoffMs: 500 },
    );
    await waitFor(
      'the flow to finish',
      async () => ['completed', 'failed'].includes((await client.status(flow.export))!.state),
      120_000,
    );
    const exp = (await client.status(flow.export))!;
    expect(exp.state, exp.failedReason).toBe('completed');
    expect((await client.status(flow.train))!.state).toBe('completed');
    const evaluated = (await client.status(flow.evaluate))!.returnValue as {
      heldOutBpc: number;
      baseHeldOutBpc: number;
    };
    expect(evaluated.heldOutBpc).toBeGreaterThan(0);
    expect(evaluated.baseHeldOutBpc).toBeGreaterThan(0);
    expect((await readdir(out)).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    // The exported files are the stored, verified ones.
    const { files } = await store.get('flowed');
    expect(new Uint8Array(await readFile(join(out, 'adapter_model.safetensors')))).toEqual(
      files['peft/adapter_model.safetensors'],
    );
  });
});
