/**
 * JobClient against a real redis-server on loopback, with no worker: what a producer sees of the
 * jobs it submits before anything runs them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobClient } from '../../src/jobs/client.js';
import type { TrainJobInput } from '../../src/jobs/payload.js';
import { AdapterError } from '../../src/errors.js';
import { requireRedis, startRedis, type RedisHandle } from './redis-server.js';

const haveRedis = requireRedis('job client tests');

const input = (name: string): TrainJobInput => ({
  name,
  base: '/models/base',
  data: 'mobydick',
  method: { kind: 'lora', r: 2 },
  training: { steps: 4 },
});

describe.skipIf(!haveRedis)('JobClient on a real redis-server', () => {
  let redis: RedisHandle;
  let client: JobClient;

  beforeAll(async () => {
    redis = await startRedis();
    client = new JobClient(redis.url, 'client-test');
  });
  afterAll(async () => {
    await client?.close();
    await redis?.stop();
  });

  it('submit validates the payload, stores it with its defaults and reports it waiting', async () => {
    const id = await client.submit(input('alpha'), { jobId: 'alpha-1', priority: 2 });
    expect(id).toBe('alpha-1');
    const status = await client.status(id);
    expect(status).toMatchObject({
      id: 'alpha-1',
      name: 'train',
      adapter: 'alpha',
      attemptsMade: 0,
      progress: 0,
    });
    expect(['waiting', 'prioritized']).toContain(status!.state);
    const job = await client.queue.getJob(id);
    expect(job!.data.training).toEqual({ steps: 4, batch: 16, evalWindows: 32 });
    expect(job!.opts.attempts).toBe(3);
    expect(await client.status('no-such-job')).toBeNull();
  });

  it('an invalid payload is refused before anything is queued', async () => {
    const before = await client.queue.count();
    const err = await client.submit({ ...input('beta'), training: { steps: 0 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).code).toBe('INVALID_CONFIG');
    expect((err as AdapterError).message).toContain('training.steps');
    expect(await client.queue.count()).toBe(before);
  });

  it('a flow queues train, then evaluate, then export, with the ids derived from the given one', async () => {
    const ids = await client.submitFlow(input('gamma'), '/tmp/gamma-peft', { jobId: 'gamma' });
    expect(ids).toEqual({ train: 'gamma', evaluate: 'gamma-evaluate', export: 'gamma-export' });
    expect((await client.status(ids.export))!.state).toBe('waiting-children');
    expect((await client.status(ids.evaluate))!.state).toBe('waiting-children');
    const exportJob = await client.queue.getJob(ids.export);
    expect(exportJob!.data).toEqual({ name: 'gamma', out: '/tmp/gamma-peft' });
  });

  it('lists jobs by state and cancels a waiting one; an unknown job cannot be cancelled', async () => {
    await client.submit(input('delta'), { jobId: 'delta-1' });
    const listed = await client.list(['waiting', 'prioritized']);
    expect(listed.map((s) => s.id)).toEqual(expect.arrayContaining(['alpha-1', 'delta-1', 'gamma']));
    await client.cancel('delta-1');
    expect(await client.status('delta-1')).toBeNull();
    await expect(client.cancel('delta-1')).rejects.toThrow("no job delta-1 in queue 'client-test'");
  });
});
