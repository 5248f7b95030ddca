import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import processTrainingJob from '../../src/jobs/processor.js';
import { PROCESSOR_ENV } from '../../src/jobs/queue-names.js';
import { FsAdapterStore } from '../../src/store/fs-store.js';
import { writeTinyBase } from './fixtures.js';

/** The fields of a sandboxed job the processor reads. */
function fakeJob(name: string, data: unknown, updateProgress = vi.fn(async () => undefined)): SandboxedJob {
  return { id: `job-${name}`, name, data, updateProgress } as unknown as SandboxedJob;
}

describe('the sandboxed job processor', () => {
  let dir: string;
  let base: string;
  let text: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adapterkit-processor-'));
    ({ base, text } = await writeTinyBase(dir));
  });
  afterEach(() => {
    process.env = { ...saved };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const useStore = () => {
    process.env[PROCESSOR_ENV.store] = join(dir, 'store');
    process.env[PROCESSOR_ENV.scratch] = join(dir, 'scratch');
  };

  it('fails (retryably) when the worker did not say where the store and checkpoints are', async () => {
    delete process.env[PROCESSOR_ENV.store];
    delete process.env[PROCESSOR_ENV.scratch];
    const err = await processTrainingJob(fakeJob('train', {})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toContain(PROCESSOR_ENV.store);
  });

  it('turns bad input into an unrecoverable failure carrying the error code', async () => {
    useStore();
    const unknownName = await processTrainingJob(fakeJob('fly', {})).catch((e: unknown) => e);
    expect(unknownName).toBeInstanceOf(UnrecoverableError);
    expect((unknownName as Error).message).toBe(
      'INVALID_CONFIG: job name "fly" is not one of: train, evaluate, export',
    );
    const badData = await processTrainingJob(
      fakeJob('train', {
        name: 'x',
        base,
        data: 'no-such-dataset',
        method: { kind: 'linear', dim: 4 },
        training: { steps: 2 },
      }),
    ).catch((e: unknown) => e);
    expect(badData).toBeInstanceOf(UnrecoverableError);
    expect((badData as Error).message).toMatch(/^INVALID_CONFIG: .*neither a built-in dataset/);
  });

  it('runs a train job into the store, reporting progress through the job', async () => {
    useStore();
    const updateProgress = vi.fn(async () => undefined);
    const result = (await processTrainingJob(
      fakeJob(
        'train',
        {
          name: 'tiny',
          base,
          data: text,
          method: { kind: 'linear', dim: 4 },
          training: { steps: 2, batch: 2, seqLen: 8, checkpointEvery: 1, evalWindows: 2 },
        },
        updateProgress,
      ),
    )) as { name: string };
    expect(result.name).toBe('tiny');
    expect(updateProgress).toHaveBeenCalled();
    const manifest = await new FsAdapterStore(join(dir, 'store')).manifest('tiny');
    expect(manifest.jobId).toBe('job-train');
  });
});
