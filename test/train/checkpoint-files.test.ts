import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointFileName, type TrainerCheckpoint } from '../../src/train/checkpoint.js';
import {
  latestTrainerCheckpoint,
  listTrainerCheckpoints,
  loadTrainerCheckpoint,
  saveTrainerCheckpoint,
} from '../../src/train/checkpoint-files.js';
import { thrownAsync } from '../helpers.js';

const root = mkdtempSync(join(tmpdir(), 'adapterkit-ckpt-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function ckptAt(step: number): TrainerCheckpoint {
  return {
    step,
    tokens: step * 10,
    params: new Map([['w', { dtype: 'float32', shape: [2], data: Float32Array.from([step, -step]) }]]),
    buffers: new Map(),
    optimizer: { params: {} },
    rngState: step,
    losses: Array.from({ length: step }, (_, i) => 1 / (i + 1)),
    evals: [],
    earlyStopping: { best: null, bestStep: null, badEvals: 0 },
  };
}

describe('trainer checkpoint files', () => {
  it('saves into a new directory and loads back the same checkpoint, leaving no temporary file', async () => {
    const dir = join(root, 'a', 'nested');
    const file = join(dir, checkpointFileName(3));
    await saveTrainerCheckpoint(file, ckptAt(3));
    expect(readdirSync(dir)).toEqual([checkpointFileName(3)]);
    expect(await loadTrainerCheckpoint(file)).toEqual(ckptAt(3));
  });

  it('lists checkpoints ascending by step and finds the newest; an empty or missing directory has none', async () => {
    const dir = join(root, 'b');
    for (const step of [20, 4, 100])
      await saveTrainerCheckpoint(join(dir, checkpointFileName(step)), ckptAt(step));
    writeFileSync(join(dir, 'notes.txt'), 'not a checkpoint');
    expect(await listTrainerCheckpoints(dir)).toEqual(
      [4, 20, 100].map((step) => ({ step, file: join(dir, checkpointFileName(step)) })),
    );
    expect(await latestTrainerCheckpoint(dir)).toBe(join(dir, checkpointFileName(100)));
    expect((await loadTrainerCheckpoint((await latestTrainerCheckpoint(dir))!)).step).toBe(100);
    expect(await listTrainerCheckpoints(join(root, 'missing'))).toEqual([]);
    expect(await latestTrainerCheckpoint(join(root, 'missing'))).toBeNull();
  });

  it('a file that is not a trainer checkpoint is CHECKPOINT_FORMAT naming the file', async () => {
    const file = join(root, 'junk.safetensors');
    writeFileSync(file, 'definitely not safetensors');
    const e = await thrownAsync(() => loadTrainerCheckpoint(file));
    expect(e.code).toBe('CHECKPOINT_FORMAT');
    expect(e.message).toContain(file);
  });
});
