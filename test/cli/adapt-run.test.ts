import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { runAdapt } from '../../src/cli/adapt-run.js';
import { pretrainCommand } from '../../src/cli/commands/pretrain.js';
import { readRunRecord } from '../../src/cli/run-record.js';

const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-adapt-run-'));
const base = join(tmp, 'base');

beforeAll(async () => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
  await pretrainCommand()
    .exitOverride()
    .parseAsync(
      [
        ...['--steps', '2', '--d-model', '16', '--layers', '1', '--heads', '2', '--d-ff', '32'],
        ...['--seq-len', '16', '--batch', '4', '--out', base, '--progress', 'none'],
      ],
      { from: 'user' },
    );
  vi.restoreAllMocks();
});

describe('runAdapt', () => {
  it('writes run.json, one metrics line per step, the adapter and result.json, and removes its checkpoints', async () => {
    const out = join(tmp, 'run');
    mkdirSync(out);
    const progress = { update: vi.fn(), stop: vi.fn() };
    const record = await runAdapt(
      {
        name: 'linear-adapter',
        baseDir: base,
        dataset: 'sotu',
        sourceDataset: 'mobydick',
        method: { kind: 'linear', dim: 4 },
        steps: 3,
        batch: 4,
        lr: 3e-2,
        seed: 0,
        evalWindows: 4,
        outDir: out,
        checkpointEvery: 2,
        recordedOptions: { method: 'linear' },
      },
      progress,
    );
    expect(record).toMatchObject({
      name: 'linear-adapter',
      dataset: 'sotu',
      evalSplit: 'heldOut',
      seqLen: 16,
    });
    expect(record.trainableParams).toBeGreaterThan(0);
    expect(record.trainableParams).toBeLessThan(record.totalParams);
    for (const bpc of [record.heldOutBpc, record.sourceHeldOutBpc, record.disabledHeldOutBpc!])
      expect(bpc).toBeGreaterThan(0);
    expect(record.saved).toBe(join(out, 'adapter.safetensors'));
    expect(existsSync(record.saved)).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'))).toEqual(record);
    const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { step: number }).step);
    expect(steps).toEqual([1, 2, 3]);
    expect(progress.update).toHaveBeenCalledTimes(3);
    expect(progress.stop).toHaveBeenCalled();
    expect(existsSync(join(out, 'checkpoints'))).toBe(false);
    const run = await readRunRecord(out);
    expect(run?.options).toEqual({ method: 'linear' });
    expect(run?.base).toMatchObject({ dModel: 16, numLayers: 1, maxLen: 16 });
  });
});
