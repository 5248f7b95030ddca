import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, TINY_MODEL_FLAGS } from '../in-process.js';

const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-cli-spam-'));
const base = join(tmp, 'base');

beforeAll(async () => {
  const r = await runCli(
    'pretrain',
    '--steps',
    '3',
    ...TINY_MODEL_FLAGS,
    '--out',
    base,
    '--progress',
    'none',
  );
  expect(r.code).toBe(0);
});

afterEach(() => vi.restoreAllMocks());

describe('adapterkit CLI', () => {
  it('spam trains a classifier with an adapter on the LM embeddings and reports test accuracy', async () => {
    const r = await runCli(
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
