import { describe, expect, it } from 'vitest';
import { parseSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import type { PathFiles } from '../../src/io/path-files.js';
import {
  checkpointFileName,
  decodeTrainerCheckpoint,
  encodeTrainerCheckpoint,
  trainerCheckpointsIn,
  type TrainerCheckpoint,
} from '../../src/train/checkpoint.js';
import { thrown } from '../helpers.js';

/** A small checkpoint using every field, with NaN and ±∞ where JSON cannot hold them. */
function sample(): TrainerCheckpoint {
  return {
    step: 12,
    tokens: 3456,
    params: new Map([
      ['lin.weight', { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-8, -7]) }],
      ['lin.bias', { dtype: 'float32', shape: [2], data: Float32Array.from([0.25, -0.5]) }],
    ]),
    buffers: new Map([
      ['bn.running_mean', { dtype: 'float32', shape: [2], data: Float32Array.from([0.1, 0.2]) }],
      ['bn.num_batches_tracked', { dtype: 'int32', shape: [], data: Int32Array.from([12]) }],
    ]),
    optimizer: {
      params: {
        'lin.weight': {
          step: 12,
          shape: [2, 3],
          expAvg: Float32Array.from([1, 2, 3, 4, 5, 6]),
          expAvgSq: Float32Array.from([6, 5, 4, 3, 2, 1]),
          maxExpAvgSq: Float32Array.from([7, 7, 7, 7, 7, 7]),
        },
        'lin.bias': {
          step: 11,
          shape: [2],
          expAvg: Float32Array.from([-1, 1]),
          expAvgSq: Float32Array.from([2, 3]),
        },
      },
    },
    rngState: 0xfffffffe,
    losses: [2.5, 1.0000000001, NaN, Infinity],
    evals: [
      { step: 4, metric: 1.5 },
      { step: 8, metric: -Infinity },
    ],
    earlyStopping: { best: -Infinity, bestStep: 8, badEvals: 1 },
  };
}

/** A checkpoint's bytes with the JSON index edited by `edit`. */
function withIndex(edit: (index: Record<string, unknown>) => void): Uint8Array {
  const file = parseSafetensors(encodeTrainerCheckpoint(sample()));
  const index = JSON.parse(file.metadata!['adapterkit.trainer']!) as Record<string, unknown>;
  edit(index);
  return writeSafetensors(file.tensors, { ...file.metadata, 'adapterkit.trainer': JSON.stringify(index) });
}

describe('trainer checkpoint encoding', () => {
  it('round-trips every field exactly, NaN and ±∞ included', () => {
    const ckpt = sample();
    const back = decodeTrainerCheckpoint(encodeTrainerCheckpoint(ckpt));
    expect(back).toEqual(ckpt);
    expect(back.buffers.get('bn.num_batches_tracked')!.data).toBeInstanceOf(Int32Array);
    expect(back.losses[1]).toBe(1.0000000001); // losses are stored as F64
    expect(back.optimizer.params['lin.bias']!.maxExpAvgSq).toBeUndefined();
  });

  it('an unseeded run without evaluations round-trips too', () => {
    const ckpt: TrainerCheckpoint = {
      ...sample(),
      rngState: null,
      evals: [],
      losses: [],
      earlyStopping: { best: null, bestStep: null, badEvals: 0 },
    };
    expect(decodeTrainerCheckpoint(encodeTrainerCheckpoint(ckpt))).toEqual(ckpt);
  });

  it('refuses an array whose length does not match its shape', () => {
    const ckpt = sample();
    ckpt.params.set('bad', { dtype: 'float32', shape: [3], data: Float32Array.from([1, 2]) });
    const e = thrown(() => encodeTrainerCheckpoint(ckpt));
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.message).toContain("'params/bad'");
  });

  it('refuses other safetensors files and damaged indexes with CHECKPOINT_FORMAT, naming the source', () => {
    const plain = writeSafetensors([['w', { dtype: 'F32', shape: [1], data: new Uint8Array(4) }]]);
    const e = thrown(() => decodeTrainerCheckpoint(plain, 'model.safetensors'));
    expect(e.code).toBe('CHECKPOINT_FORMAT');
    expect(e.message).toContain('model.safetensors: not a trainer checkpoint');

    const newer = thrown(() => decodeTrainerCheckpoint(withIndex((i) => void (i.version = 99))));
    expect(newer.code).toBe('CHECKPOINT_FORMAT');
    expect(newer.message).toContain('unsupported trainer checkpoint version 99');

    const noStep = thrown(() => decodeTrainerCheckpoint(withIndex((i) => delete i.step)));
    expect(noStep.message).toContain('lacks step');

    const rng = thrown(() => decodeTrainerCheckpoint(withIndex((i) => void (i.rngState = -1))));
    expect(rng.message).toContain('rngState must be null or an unsigned 32-bit integer');

    const metric = thrown(() =>
      decodeTrainerCheckpoint(withIndex((i) => void (i.evals = [{ step: 1, metric: 'lots' }]))),
    );
    expect(metric.message).toContain('evals[0].metric must be a number');
  });

  it('names checkpoint files so that they sort by step', () => {
    expect(checkpointFileName(10)).toBe('checkpoint-00000010.safetensors');
    const names = [100, 9, 20].map(checkpointFileName);
    expect([...names].sort()).toEqual([9, 20, 100].map(checkpointFileName));
  });

  it('trainerCheckpointsIn lists checkpoint files ascending by step, ignoring other names and a missing directory', async () => {
    const dirs: Record<string, string[]> = {
      run: [
        'checkpoint-00000020.safetensors',
        'notes.txt',
        'checkpoint-5.safetensors',
        'checkpoint-x.safetensors',
      ],
    };
    const files = {
      join: (...parts: string[]) => parts.join('/'),
      readdir: (dir: string) => Promise.resolve(dirs[dir] ?? null),
    } as unknown as PathFiles;
    expect(await trainerCheckpointsIn(files, 'run')).toEqual([
      { step: 5, file: 'run/checkpoint-5.safetensors' },
      { step: 20, file: 'run/checkpoint-00000020.safetensors' },
    ]);
    expect(await trainerCheckpointsIn(files, 'missing')).toEqual([]);
  });
});
