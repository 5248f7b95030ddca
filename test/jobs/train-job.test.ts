import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import {
  parsePayload,
  trainJobSchema,
  type JobMethodInput,
  type TrainJobInput,
} from '../../src/jobs/payload.js';
import { runEvaluateJob, runExportJob, runTrainJob } from '../../src/jobs/train-job.js';
import { FsAdapterStore } from '../../src/store/fs-store.js';
import { writeTinyBase } from './fixtures.js';

/** Methods beyond lora, linear and parallel, and modulesToSave: [label, method, stored format]. */
const NEW_METHODS: [string, JobMethodInput, 'peft' | 'adapterkit'][] = [
  ['vera', { kind: 'vera', r: 2, targetModules: ['q_proj', 'fc1'] }, 'peft'],
  ['prefix', { kind: 'prefix', numVirtualTokens: 2 }, 'adapterkit'],
  [
    'mam',
    { kind: 'mam', numVirtualTokens: 2, prefixProjection: true, encoderHiddenSize: 8, dim: 4 },
    'adapterkit',
  ],
  ['linear with modulesToSave', { kind: 'linear', dim: 4, modulesToSave: ['lm_head'] }, 'adapterkit'],
  ['lora with modulesToSave', { kind: 'lora', r: 2, modulesToSave: ['decoder.norm'] }, 'peft'],
  ['vera with modulesToSave', { kind: 'vera', r: 2, modulesToSave: ['lm_head'] }, 'peft'],
];

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

  it.each(NEW_METHODS)(
    '%s: trains, is stored in its format, and loads back with the same held-out bits per character',
    async (label, method, format) => {
      const name = label.replace(/ /g, '-');
      const training = { steps: 3, batch: 2, seqLen: 16, evalWindows: 2 };
      const trained = tf.memory().numTensors;
      const r = await runTrainJob(payload({ name, method, training }), ctx(`job-${name}`));
      // The first VeRA job creates one cached backend constant, once; later VeRA jobs leave the count flat.
      if (label !== 'vera') expect(tf.memory().numTensors).toBe(trained);
      expect(r.outcome).toBe('written');
      const manifest = await store.manifest(name);
      expect(manifest).toMatchObject({ kind: method.kind, format });
      expect(Object.keys(manifest.files)[0]).toMatch(
        format === 'peft' ? /^peft\// : /^adapter\.safetensors$/,
      );
      const heldOutBpc = r.metrics.heldOutBpc as number;
      expect(Number.isFinite(heldOutBpc)).toBe(true);
      const evalJob = { name, base, data: text, evalWindows: training.evalWindows, batch: training.batch };
      const before = tf.memory().numTensors;
      const evaluated = await runEvaluateJob(evalJob, store);
      expect(tf.memory().numTensors).toBe(before);
      expect(evaluated.heldOutBpc).toBeCloseTo(heldOutBpc, 5);
      expect(evaluated.heldOutBpc).not.toBe(evaluated.baseHeldOutBpc); // the adapter was loaded and used
    },
  );

  it('the export step writes a stored VeRA adapter as PEFT and refuses a prefix adapter, naming the methods that export', async () => {
    const out = join(dir, 'export-vera');
    const exported = await runExportJob({ name: 'vera', out }, store);
    expect(exported.files).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect((await readdir(out)).sort()).toEqual(exported.files);
    const e = await runExportJob({ name: 'prefix', out: join(dir, 'export-prefix') }, store).catch(
      (err: unknown) => err,
    );
    expect(e).toMatchObject({ code: 'UNSUPPORTED_FEATURE' });
    expect((e as Error).message).toContain("adapter 'prefix' is a prefix adapter stored as adapterkit");
    expect((e as Error).message).toContain('(methods lora, vera)');
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
