import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdapterError } from '../../src/errors.js';
import { loadJobText } from '../../src/jobs/job-data.js';

const dir = mkdtempSync(join(tmpdir(), 'adapterkit-job-data-'));

describe('loadJobText', () => {
  it('holds out the last tenth of a .txt file', async () => {
    const file = join(dir, 'ten.txt');
    writeFileSync(file, 'abcdefghij'.repeat(10));
    const { train, heldOut } = await loadJobText(file, 'text');
    expect(train.length).toBe(90);
    expect(heldOut.length).toBe(10);
    expect(train + heldOut).toBe('abcdefghij'.repeat(10));
  });

  it('reads the text field of every non-empty JSONL line, one per line', async () => {
    const file = join(dir, 'rows.jsonl');
    writeFileSync(file, `${JSON.stringify({ body: 'first' })}\n\n${JSON.stringify({ body: 'second' })}\n`);
    const { train, heldOut } = await loadJobText(file, 'body');
    expect(train + heldOut).toBe('first\nsecond');
  });

  it('names the line of bad JSON and of a row without the text field', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${JSON.stringify({ text: 'ok' })}\n{not json\n`);
    await expect(loadJobText(bad, 'text')).rejects.toThrow(`${bad} line 2 is not valid JSON`);
    const missing = join(dir, 'missing.jsonl');
    writeFileSync(missing, `${JSON.stringify({ text: 'ok' })}\n${JSON.stringify({ body: 'x' })}\n`);
    await expect(loadJobText(missing, 'text')).rejects.toThrow(
      `${missing} line 2 has no string field 'text'`,
    );
  });

  it('an unreadable reference names the built-in datasets', async () => {
    const err = await loadJobText(join(dir, 'nope.txt'), 'text').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).code).toBe('INVALID_CONFIG');
    expect((err as AdapterError).message).toContain('neither a built-in dataset (mobydick, sotu)');
    expect((err as AdapterError).message).toContain('ENOENT');
  });
});
