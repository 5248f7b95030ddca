/**
 * startWorker against a real redis-server on loopback: where it keeps checkpoints, the options it
 * gives BullMQ, and one job through its sandboxed processor (a bad job fails once, without retries).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobClient } from '../../src/jobs/client.js';
import { startWorker } from '../../src/jobs/worker.js';
import { requireRedis, startRedis, type RedisHandle } from './redis-server.js';

const haveRedis = requireRedis('worker tests');

describe.skipIf(!haveRedis)('startWorker on a real redis-server', () => {
  let redis: RedisHandle;
  let dir: string;
  let worker: Worker | undefined;
  let client: JobClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adapterkit-worker-'));
    redis = await startRedis();
    client = new JobClient(redis.url, 'worker-test');
  });
  afterAll(async () => {
    await worker?.close();
    await client?.close();
    await redis?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps checkpoints under the store by default and applies its lock and concurrency options', async () => {
    const store = join(dir, 'store');
    worker = await startWorker({
      redis: redis.url,
      store,
      queue: 'worker-test',
      concurrency: 2,
      lockDurationMs: 5000,
    });
    expect((await stat(join(store, '.checkpoints'))).isDirectory()).toBe(true);
    expect(worker.name).toBe('worker-test');
    expect(worker.opts).toMatchObject({ concurrency: 2, lockDuration: 5000, stalledInterval: 5000 });
    expect(worker.opts.workerForkOptions?.env).toMatchObject({
      ADAPTERKIT_JOB_STORE: resolve(store),
      ADAPTERKIT_JOB_SCRATCH: resolve(store, '.checkpoints'),
    });
  });

  it('a job with bad input fails in its sandboxed processor after one attempt, naming the problem', async () => {
    const id = await client.submit(
      {
        name: 'bad-data',
        base: join(dir, 'no-base'),
        data: 'no-such-dataset',
        method: { kind: 'linear', dim: 4 },
        training: { steps: 2 },
      },
      { attempts: 3, backoffMs: 100 },
    );
    const end = Date.now() + 60_000;
    let state = '';
    while (Date.now() < end) {
      state = (await client.status(id))!.state;
      if (state === 'failed' || state === 'completed') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const status = (await client.status(id))!;
    expect(status.state).toBe('failed');
    expect(status.attemptsMade).toBe(1);
    expect(status.failedReason).toMatch(/^INVALID_CONFIG: .*no-such-dataset/);
  });
});
