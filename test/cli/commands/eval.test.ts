import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { evalCommand, type EvalRecord } from '../../../src/cli/commands/eval.js';
import { UsageError } from '../../../src/cli/user-error.js';
import { makeComposedAdapters, type ComposedAdapters } from '../composed-adapters.js';
import { runCli } from '../in-process.js';

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

describe('eval --setup', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-eval-setup-'));
  let files: ComposedAdapters;
  beforeAll(async () => {
    files = await makeComposedAdapters(tmp);
  });

  /** `eval --json` on the tiny base with `args`; the record, or the failure. */
  async function evalRecord(...args: string[]) {
    const r = await runCli(
      'eval',
      '--base',
      files.base,
      '--dataset',
      'mobydick',
      '--eval-windows',
      '2',
      '--batch',
      '2',
      '--progress',
      'none',
      '--json',
      ...args,
    );
    const record = r.code === 0 ? (JSON.parse(r.out) as { record: EvalRecord }).record : undefined;
    return { ...r, record };
  }

  it("--setup 'stack(a, b)' is the default chain; a setup naming one adapter runs that adapter alone", async () => {
    const chain = await evalRecord('--adapter', files.both);
    const stack = await evalRecord('--adapter', files.both, '--setup', 'stack(a, b)');
    expect(stack.record?.setup).toEqual({ type: 'stack', children: ['a', 'b'] });
    expect(stack.record?.bpc).toBe(chain.record?.bpc);
    const onlyA = await evalRecord('--adapter', files.onlyA);
    const setupA = await evalRecord('--adapter', files.both, '--setup', 'a');
    expect(setupA.record?.bpc).toBe(onlyA.record?.bpc);
    expect(setupA.record?.bpc).not.toBe(chain.record?.bpc);
    const reversed = await evalRecord('--adapter', files.both, '--setup', 'Stack(b,a)');
    expect(reversed.record?.bpc).not.toBe(chain.record?.bpc);
  });

  it('average and fuse blocks with options run; the text form and a JSON file give the same setup', async () => {
    const avg = await evalRecord('--adapter', files.both, '--setup', 'average(a, b, weights=[1, 3])');
    expect(avg.code).toBe(0);
    expect(avg.record?.setup).toEqual({ type: 'average', children: ['a', 'b'], weights: [1, 3] });
    const file = join(tmp, 'average.json');
    writeFileSync(file, JSON.stringify({ type: 'average', children: ['a', 'b'], weights: [1, 3] }));
    const fromFile = await evalRecord('--adapter', files.both, '--setup', file);
    expect(fromFile.record?.bpc).toBe(avg.record?.bpc);
    const fuse = await evalRecord('--adapter', files.both, '--setup', 'fuse(a, b)');
    expect(fuse.code).toBe(0);
    expect(Number.isFinite(fuse.record?.bpc)).toBe(true);
  });

  it('several --adapter files, each as name=path, compose under their new names', async () => {
    const chain = await evalRecord('--adapter', files.both);
    const renamed = await evalRecord(
      '--adapter',
      `x=${files.onlyA}`,
      '--adapter',
      `y=${files.onlyB}`,
      '--setup',
      'stack(x, y)',
    );
    expect(renamed.record?.adapters).toEqual(['x', 'y']);
    expect(renamed.record?.bpc).toBe(chain.record?.bpc);
    const clash = await evalRecord('--adapter', files.onlyA, '--adapter', files.both);
    expect(clash.code).toBe(2);
    expect(clash.err).toContain(`adapter 'a' of ${files.both} is already loaded from ${files.onlyA}`);
    const many = await evalRecord('--adapter', `x=${files.both}`);
    expect(many.err).toContain('holds 2 adapters (a, b)');
  });

  it('an adapter the setup names that was not loaded is NOT_FOUND listing the loaded ones', async () => {
    const r = await evalRecord('--adapter', files.both, '--setup', 'stack(a, c)');
    expect(r.code).toBe(1);
    expect(r.err).toContain("names 'c', which is not a loaded adapter; loaded adapters: a, b");
  });

  it('a bad text setup says what was wrong and where', async () => {
    const open = await evalRecord('--adapter', files.both, '--setup', 'stack(a, b');
    expect(open.code).toBe(2);
    expect(open.err).toContain("--setup 'stack(a, b': expected ',' or ')' in stack(…) at the end");
    const block = await evalRecord('--adapter', files.both, '--setup', 'stak(a, b)');
    expect(block.err).toContain("'stak' is not a block; blocks: stack, parallel, batchSplit, average, fuse");
    const nesting = await evalRecord('--adapter', files.both, '--setup', 'average(fuse(a, b))');
    expect(nesting.code).toBe(1);
    expect(nesting.err).toContain('Fuse');
    expect(nesting.err).toContain('Average may hold');
    const option = await evalRecord('--adapter', files.both, '--setup', 'stack(a, b, weights=[1, 2])');
    expect(option.err).toContain('Stack does not take weights');
    const parallel = await evalRecord('--adapter', files.both, '--setup', 'parallel(a, b)');
    expect(parallel.code).toBe(2);
    expect(parallel.err).toContain('a Parallel block gives one output per child');
  });

  it('a PEFT (LoRA) adapter has no setups: --setup with it is a usage error', async () => {
    const run = join(tmp, 'lora-run');
    const adapt = await runCli(
      'adapt',
      '--base',
      files.base,
      '--method',
      'lora',
      '--rank',
      '2',
      '--steps',
      '1',
      '--batch',
      '2',
      '--eval-windows',
      '2',
      '--out',
      run,
      '--progress',
      'none',
    );
    expect(adapt.code).toBe(0);
    const r = await evalRecord('--adapter', run, '--setup', 'stack(a)');
    expect(r.code).toBe(2);
    expect(r.err).toContain('holds LoRA, which has no composition setups');
    const twice = await evalRecord('--adapter', run, '--adapter', files.onlyA);
    expect(twice.err).toContain('is a PEFT directory; only adapter files');
  });

  it('an unreadable or invalid setup file is named with the problem', async () => {
    const missing = join(tmp, 'missing.json');
    const r = await evalRecord('--adapter', files.both, '--setup', missing);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`cannot read the setup file ${missing}: no such file`);
    const broken = join(tmp, 'broken.json');
    writeFileSync(broken, '{"type": "stack", ');
    const bad = await evalRecord('--adapter', files.both, '--setup', broken);
    expect(bad.err).toContain(`${broken} is not valid JSON`);
    const wrong = join(tmp, 'wrong.json');
    writeFileSync(wrong, JSON.stringify({ type: 'stacks', children: ['a'] }));
    const invalid = await evalRecord('--adapter', files.both, '--setup', wrong);
    expect(invalid.err).toContain(`--setup ${wrong}: setup.type "stacks" is not a block type`);
  });
});
