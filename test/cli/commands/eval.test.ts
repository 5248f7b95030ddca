import { afterEach, describe, expect, it, vi } from 'vitest';
import { evalCommand, type EvalRecord } from '../../../src/cli/commands/eval.js';
import { UsageError } from '../../../src/cli/user-error.js';

afterEach(() => vi.restoreAllMocks());

/** Runs `eval` in-process on the shipped base model; returns what it printed on standard output. */
async function evalOut(...args: string[]): Promise<string> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(console, 'log').mockImplementation((...a) => void (out += `${a.join(' ')}\n`));
  await evalCommand()
    .exitOverride()
    .parseAsync([...args, '--batch', '2', '--progress', 'none'], { from: 'user' });
  return out;
}

describe('eval', () => {
  it('--json prints one result record: dataset, split, windows, adapters and bits per character', async () => {
    const out = await evalOut('--dataset', 'mobydick', '--eval-windows', '2', '--json');
    const { event, record } = JSON.parse(out) as { event: string; record: EvalRecord };
    expect(event).toBe('result');
    expect(record).toMatchObject({ dataset: 'mobydick', split: 'heldOut', windows: 2, adapters: [] });
    expect(record.bpc).toBeGreaterThan(0);
    expect(record.bpc).toBeLessThan(8);
  });

  it('prints one line naming the text, the windows and the model; --windows is the old name of --eval-windows', async () => {
    const out = await evalOut('--windows', '2', '--split', 'train');
    expect(out).toMatch(/^sotu train \(2 windows\): \d+\.\d{4} bits per character \(base model\)\n$/);
    await expect(evalOut('--windows', '2', '--eval-windows', '3')).rejects.toThrow(UsageError);
  });
});
