import { afterEach, describe, expect, it, vi } from 'vitest';
import { generateCommand } from '../../../src/cli/commands/generate.js';

afterEach(() => vi.restoreAllMocks());

/** Runs `generate` in-process on the shipped base model; returns the line it printed. */
async function generate(...args: string[]): Promise<string> {
  let out = '';
  vi.spyOn(console, 'log').mockImplementation((...a) => void (out += a.join(' ')));
  await generateCommand().exitOverride().parseAsync(args, { from: 'user' });
  return out;
}

describe('generate', () => {
  it('prints the prompt followed by --length sampled characters, the same for the same --seed', async () => {
    const a = await generate('--prompt', 'Call me', '--length', '12', '--seed', '3');
    expect(a.startsWith('Call me')).toBe(true);
    expect(a).toHaveLength('Call me'.length + 12);
    expect(await generate('--prompt', 'Call me', '--length', '12', '--seed', '3')).toBe(a);
  });

  it('refuses an empty prompt, naming the flag', async () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await expect(generate('--prompt', '')).rejects.toThrow('--prompt must not be empty');
  });
});
