/** Whole-file reads: clear errors for a missing file and for one too large to read into memory. */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { MAX_FILE_BYTES, readFileBytes } from '../../src/io/atomic-file.js';

let place: string;
beforeEach(() => {
  place = mkdtempSync(join(tmpdir(), 'adapterkit-read-'));
});
afterEach(() => rmSync(place, { recursive: true, force: true }));

it('a file above MAX_FILE_BYTES → CHECKPOINT_FORMAT naming it, its size and the limit (nothing is read)', async () => {
  const file = join(place, 'huge.safetensors');
  writeFileSync(file, '');
  truncateSync(file, MAX_FILE_BYTES + 1); // sparse: no disk space used
  const err = await readFileBytes(file).catch((e) => e);
  expect(err.code).toBe('CHECKPOINT_FORMAT');
  expect(err.message).toContain(file);
  expect(err.message).toContain(String(MAX_FILE_BYTES + 1));
  expect(err.message).toContain(`limit of ${MAX_FILE_BYTES}`);
});

it('a missing file → CHECKPOINT_FORMAT naming it', async () => {
  const err = await readFileBytes(join(place, 'nope')).catch((e) => e);
  expect(err.code).toBe('CHECKPOINT_FORMAT');
  expect(err.message).toContain('no such file');
});
