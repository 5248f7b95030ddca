import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweepCommand } from '../../../src/cli/commands/sweep.js';
import { AdapterError } from '../../../src/errors.js';

const out = mkdtempSync(join(tmpdir(), 'adapterkit-sweep-'));

/** The error `sweep` fails with for `args`, before it starts any run. */
async function sweepError(...args: string[]): Promise<AdapterError> {
  const e = await sweepCommand()
    .exitOverride()
    .parseAsync([...args, '--out', out, '--progress', 'none'], { from: 'user' })
    .catch((x: unknown) => x);
  expect(e).toBeInstanceOf(AdapterError);
  return e as AdapterError;
}

describe('sweep', () => {
  it('refuses learning rates that are not positive numbers, quoting what was given', async () => {
    const e = await sweepError('--lrs', '1e-3,zero');
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toBe("--lrs must be positive numbers separated by commas, got '1e-3,zero'");
    expect((await sweepError('--lrs', '0.01,-1')).message).toContain("got '0.01,-1'");
  });

  it('refuses an unknown method naming the valid ones, and writes no sweep directory', async () => {
    const e = await sweepError('--methods', 'lora,adaptr');
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toMatch(/^--methods: unknown method 'adaptr'; valid: .*lora/);
    expect(readdirSync(out)).toEqual([]);
  });
});
