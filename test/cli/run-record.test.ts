import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  baseShape,
  checkSameShape,
  readRunRecord,
  runRecordOf,
  RUN_RECORD_FILE,
  writeRunRecord,
} from '../../src/cli/run-record.js';
import { AdapterError } from '../../src/errors.js';
import type { CharLMConfig } from '../../src/models/char-lm.js';

const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-run-record-'));
const cfg: CharLMConfig = { vocabSize: 40, dModel: 16, numLayers: 1, nHead: 2, dFF: 32, maxLen: 16 };

describe('run.json', () => {
  it('records the absolute base path, its shape and the options; reads back from the run or an artefact in it', async () => {
    const run = join(tmp, 'run');
    mkdirSync(join(run, 'peft'), { recursive: true });
    await writeRunRecord(run, 'relative/base', cfg, { steps: 3, method: 'lora' });
    const rec = await readRunRecord(run);
    expect(rec).toEqual({
      command: 'adapt',
      base: { path: resolve('relative/base'), dModel: 16, numLayers: 1, vocabSize: 40, maxLen: 16 },
      options: { steps: 3, method: 'lora' },
    });
    expect(await runRecordOf(join(run, 'peft'))).toEqual(rec);
    expect(await runRecordOf(join(run, 'adapter.safetensors'))).toEqual(rec);
    expect(await runRecordOf(run)).toEqual(rec);
  });

  it('is null where there is no record, and a clear error where the file is not one', async () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    expect(await readRunRecord(empty)).toBeNull();
    expect(await runRecordOf(join(empty, 'x'))).toBeNull();
    const bad = join(tmp, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, RUN_RECORD_FILE), '{"base": {}}');
    const err = await readRunRecord(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).code).toBe('CHECKPOINT_FORMAT');
    expect((err as AdapterError).message).toContain('is not a run record');
    writeFileSync(join(bad, RUN_RECORD_FILE), 'not json');
    await expect(readRunRecord(bad)).rejects.toThrow('is not a run record');
  });
});

describe('checkSameShape', () => {
  it('accepts the same width, depth and vocabulary (the context length may differ)', () => {
    const shape = baseShape(cfg);
    expect(shape).toEqual({ dModel: 16, numLayers: 1, vocabSize: 40, maxLen: 16 });
    expect(() => checkSameShape('the adapter', shape, { ...shape, maxLen: 64 }, '/b')).not.toThrow();
  });

  it('names only the fields that differ, on both sides, and the flag to fix it', () => {
    const trained = baseShape(cfg);
    let err: unknown;
    try {
      checkSameShape('runs/x', trained, { ...trained, dModel: 32, vocabSize: 50 }, '/models/b');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).code).toBe('CHECKPOINT_MISMATCH');
    expect((err as AdapterError).message).toBe(
      'runs/x was trained for d_model 16, vocabulary size 40, this base (/models/b) has d_model 32, vocabulary size 50; pass the --base it was trained on',
    );
  });
});
