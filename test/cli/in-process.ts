/** Running the CLI inside the test process, and the tiny base model the CLI tests pretrain. */
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

/** Flags of a tiny base model for `adapterkit pretrain` (seconds to train on two cores). */
export const TINY_MODEL_FLAGS = [
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

/** Runs the CLI in-process; returns the exit code and what it printed. */
export async function runCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
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
