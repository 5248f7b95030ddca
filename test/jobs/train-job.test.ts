import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { parsePayload, trainJobSchema, type TrainJobInput } from '../../src/jobs/payload.js';
import { runTrainJob } from '../../src/jobs/train-job.js';
import { FsAdapterStore } from '../../src/store/fs-store.js';
import { writeTinyBase } from './fixtures.js';

describe('training jobs without a queue', () => {
  let dir: string;
  let base: string;
  let text: string;
  let store: FsAdapterStore;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adapterkit-trainjob-'));
    ({ base, text } = await writeTinyBase(dir));
    store = new FsAdapterStore(join(dir, 'store'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const payload = (over: Partial<TrainJobInput> = {}): TrainJobInput => ({
    name: 'a',
    base,
    data: text,
    method: { kind: 'linear', dim: 4 },
    training: { steps: 4, batch: 2, seqLen: 8, checkpointEvery: 2, evalWindows: 2 },
    ...over,
  });
  const ctx = (jobId: string) => ({ jobId, store, scratchDir: join(dir, 'scratch') });

  it('rejects a payload naming every bad field', () => {
    expect(() =>
      parsePayload(
        trainJobSchema,
        { ...payload(), method: { kind: 'lora' }, extra: 1, training: { steps: 0 } },
        'training job',
      ),
    ).toThrow(/invalid training job: .*method\.r.*training\.steps/s);
    expect(() => parsePayload(trainJobSchema, { ...payload(), extra: 1 }, 'training job')).toThrow(/extra/);
  });

  it('stores one adapter per job: a redelivered job returns the stored adapter; another job may not take the name', async () => {
    const first = await runTrainJob(payload(), ctx('job-1'));
    expect(first.outcome).toBe('written');
    // The first job creates the backend's cached constants; later jobs leave the tensor count flat.
    const before = tf.memory().numTensors;
    expect(
      (await runTrainJob(payload({ name: 'a2', method: { kind: 'lora', r: 2 } }), ctx('job-5'))).outcome,
    ).toBe('written');
    expect(tf.memory().numTensors).toBe(before);
    const again = await runTrainJob(payload(), ctx('job-1'));
    expect(again).toMatchObject({ outcome: 'already-stored', contentHash: first.contentHash });
    await expect(runTrainJob(payload(), ctx('job-2'))).rejects.toMatchObject({ code: 'DUPLICATE_ADAPTER' });
    expect((await store.list()).map((m) => m.name)).toEqual(['a', 'a2']);
    expect(await readdir(join(dir, 'scratch'))).toEqual([]); // checkpoints removed once stored
  });

  it('reports progress after every new checkpoint, naming the step a retry would resume from', async () => {
    const seen: { step: number; checkpointedStep: number }[] = [];
    await runTrainJob(
      payload({ name: 'p', training: { steps: 7, batch: 2, seqLen: 8, checkpointEvery: 3, evalWindows: 2 } }),
      {
        ...ctx('job-6'),
        onProgress: (p) => seen.push({ step: p.step, checkpointedStep: p.checkpointedStep }),
      },
    );
    // Step 4 is the first report after the step-3 checkpoint, step 7 after step 6's and the last.
    expect(seen).toEqual(
      expect.arrayContaining([
        { step: 1, checkpointedStep: 0 },
        { step: 4, checkpointedStep: 3 },
        { step: 7, checkpointedStep: 6 },
      ]),
    );
    for (const p of seen) expect(p.checkpointedStep).toBe(Math.floor((p.step - 1) / 3) * 3);
  });

  it('fails clearly on a missing base model and an unknown dataset', async () => {
    await expect(runTrainJob(payload({ name: 'b', base: join(dir, 'nope') }), ctx('job-3'))).rejects.toThrow(
      /base model .*nope/,
    );
    await expect(runTrainJob(payload({ name: 'c', data: 'wikipedia' }), ctx('job-4'))).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
    });
  });
});
