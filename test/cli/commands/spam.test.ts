import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';

const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-cli-spam-'));
const base = join(tmp, 'base');

/** Runs the CLI in-process; returns the exit code and what it printed. */
async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  const l = vi.spyOn(console, 'log').mockImplementation((...a) => void (out += `${a.join(' ')}\n`));
  const le = vi.spyOn(console, 'error').mockImplementation((...a) => void (err += `${a.join(' ')}\n`));
  try {
    const code = await main(['node', 'adapterkit', ...args]);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    l.mockRestore();
    le.mockRestore();
  }
}

/** A tiny base model, as test/cli/main.test.ts pretrains it. */
const TINY = [
  '--d-model',
  '16',
  '--layers',
  '1',
  '--heads',
  '2',
  '--d-ff',
  '32',
  '--seq-len',
  '16',
  '--batch',
  '4',
];

beforeAll(async () => {
  const r = await run('pretrain', '--steps', '3', ...TINY, '--out', base, '--progress', 'none');
  expect(r.code).toBe(0);
});

afterEach(() => vi.restoreAllMocks());

describe('adapterkit CLI', () => {
  it('spam trains a classifier with an adapter on the LM embeddings and reports test accuracy', async () => {
    const r = await run(
      'spam',
      '--init',
      'lm',
      '--base',
      base,
      '--adapter',
      'linear',
      '--dim',
      '4',
      '--steps',
      '2',
      '--batch',
      '4',
      '--max-len',
      '16',
      '--progress',
      'none',
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/test accuracy \d+\.\d % on \d+ messages/);
  });
});
