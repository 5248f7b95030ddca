import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateCommand } from '../../../src/cli/commands/generate.js';
import { makeComposedAdapters, type ComposedAdapters } from '../composed-adapters.js';
import { runCli } from '../in-process.js';

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

describe('generate --setup', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-generate-setup-'));
  let files: ComposedAdapters;
  beforeAll(async () => {
    files = await makeComposedAdapters(tmp);
  });

  /** `generate` on the tiny base with `args`: exit code, the text and the error line. */
  const sample = (...args: string[]) =>
    runCli('generate', '--base', files.base, '--prompt', 'The ', '--length', '24', '--seed', '5', ...args);

  it('samples through the setup: one named adapter equals that adapter alone, the stack equals the default chain', async () => {
    const onlyA = await sample('--adapter', files.onlyA);
    const setupA = await sample('--adapter', files.both, '--setup', 'stack(a)');
    expect(setupA.code).toBe(0);
    expect(setupA.out).toBe(onlyA.out);
    const chain = await sample('--adapter', files.both);
    const file = join(tmp, 'stack.json');
    writeFileSync(file, JSON.stringify({ type: 'stack', children: ['a', 'b'] }));
    const stack = await sample(
      '--adapter',
      `a=${files.onlyA}`,
      '--adapter',
      `b=${files.onlyB}`,
      '--setup',
      file,
    );
    expect(stack.code).toBe(0);
    expect(stack.out).toBe(chain.out);
  });

  it('refuses an adapter the setup names that was not loaded, and a bad setup, naming the problem', async () => {
    const unknown = await sample('--adapter', files.onlyA, '--setup', 'average(a, b)');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain("names 'b', which is not a loaded adapter; loaded adapters: a");
    const text = await sample('--adapter', files.both, '--setup', 'stack(a, b))');
    expect(text.code).toBe(2);
    expect(text.err).toContain("--setup 'stack(a, b))': unexpected ')' at character 12");
    const none = await sample('--setup', 'stack(a)');
    expect(none.err).toContain('loaded adapters: (none: give --adapter)');
  });
});
