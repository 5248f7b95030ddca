import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Interrupted } from '../../src/cli/interrupt.js';
import { timestamp, withOutputDir } from '../../src/cli/run-dir.js';
import { UsageError } from '../../src/cli/user-error.js';
import { AdapterError } from '../../src/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-run-dir-'));
let n = 0;
const fresh = () => join(tmp, `d${n++}`);
const fail = () => Promise.reject(new Error('training failed'));

describe('withOutputDir', () => {
  it('creates a new directory (and its parents) and keeps it when the command succeeds', async () => {
    const dir = join(fresh(), 'nested', 'run');
    const result = await withOutputDir(dir, {}, async (out) => {
      expect(out).toEqual({ path: dir, resumed: false });
      await writeFile(join(out.path, 'run.json'), '{}');
      return 42;
    });
    expect(result).toBe(42);
    expect(readdirSync(dir)).toEqual(['run.json']);
  });

  it('a failed command removes the directory and the parents it created', async () => {
    const top = fresh();
    await expect(withOutputDir(join(top, 'a', 'run'), {}, fail)).rejects.toThrow('training failed');
    expect(existsSync(top)).toBe(false);
  });

  it('a command stopped by a signal keeps what it wrote, but not an empty directory', async () => {
    const kept = fresh();
    await expect(
      withOutputDir(kept, {}, async (out) => {
        await writeFile(join(out.path, 'metrics.jsonl'), '');
        throw new Interrupted('SIGINT');
      }),
    ).rejects.toBeInstanceOf(Interrupted);
    expect(readdirSync(kept)).toEqual(['metrics.jsonl']);
    const empty = fresh();
    await expect(
      withOutputDir(empty, {}, () => Promise.reject(new Interrupted('SIGTERM'))),
    ).rejects.toThrow();
    expect(existsSync(empty)).toBe(false);
  });

  it('refuses an existing directory, naming --force (and --resume where the command has it)', async () => {
    const dir = fresh();
    mkdirSync(dir);
    await expect(withOutputDir(dir, {}, fail)).rejects.toThrow(
      `output directory ${dir} already exists; choose another --out, or pass --force to replace it`,
    );
    await expect(withOutputDir(dir, { resumable: true }, fail)).rejects.toThrow(
      'pass --resume to continue its run or --force to replace it',
    );
    expect(existsSync(dir)).toBe(true);
  });

  it('refuses a file as --out and --force with --resume', async () => {
    const file = fresh();
    writeFileSync(file, 'x');
    await expect(withOutputDir(file, {}, fail)).rejects.toThrow(`--out ${file} is a file`);
    await expect(withOutputDir(fresh(), { force: true, resume: true }, fail)).rejects.toBeInstanceOf(
      UsageError,
    );
  });

  it('--resume continues in an existing directory and refuses a missing one', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, 'metrics.jsonl'), 'step 1\n');
    await withOutputDir(dir, { resume: true }, async (out) => expect(out.resumed).toBe(true));
    expect(readFileSync(join(dir, 'metrics.jsonl'), 'utf8')).toBe('step 1\n');
    const err = await withOutputDir(fresh(), { resume: true }, fail).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).message).toContain('there is no run to continue');
  });

  it('--force replaces an adapterkit output, puts it back when the new run fails, and refuses other directories', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, 'run.json'), 'old');
    await expect(withOutputDir(dir, { force: true }, fail)).rejects.toThrow('training failed');
    expect(readFileSync(join(dir, 'run.json'), 'utf8')).toBe('old');
    await withOutputDir(dir, { force: true }, (out) => writeFile(join(out.path, 'result.json'), 'new'));
    expect(readdirSync(dir)).toEqual(['result.json']);
    expect(readdirSync(tmp).some((f) => f.includes('.replaced-'))).toBe(false);

    const other = fresh();
    mkdirSync(other);
    writeFileSync(join(other, 'thesis.tex'), 'precious');
    await expect(withOutputDir(other, { force: true }, fail)).rejects.toThrow(
      'is not an adapterkit output directory',
    );
    expect(readFileSync(join(other, 'thesis.tex'), 'utf8')).toBe('precious');
  });
});

describe('timestamp', () => {
  it('is the UTC time to the second with no colons', () => {
    expect(timestamp(new Date('2026-11-25T16:30:05.123Z'))).toBe('2026-11-25T16-30-05');
  });
});
