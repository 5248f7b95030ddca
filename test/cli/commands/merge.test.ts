/**
 * What `merge` and `export` accept as the LoRA to use, checked before any model is loaded. The full
 * merge and export of a trained LoRA run is tested in test/cli/main.test.ts, on the run it trains.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportCommand, mergeCommand } from '../../../src/cli/commands/merge.js';
import { AdapterError } from '../../../src/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-merge-'));

/** A directory holding empty `files`. */
function dirWith(name: string, ...files: string[]): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  for (const f of files) writeFileSync(join(dir, f), '');
  return dir;
}

async function exportError(run: string): Promise<AdapterError> {
  const e = await exportCommand()
    .exitOverride()
    .parseAsync(['--format', 'peft', '--run', run, '--out', join(tmp, 'out')], { from: 'user' })
    .catch((x: unknown) => x);
  expect(e).toBeInstanceOf(AdapterError);
  return e as AdapterError;
}

describe('merge and export: the LoRA they use', () => {
  it('a linear adapter run or a whole model is refused, saying what to do instead', async () => {
    const linear = await exportError(dirWith('run-linear', 'run.json', 'adapter.safetensors'));
    expect(linear.code).toBe('UNSUPPORTED_FEATURE');
    expect(linear.message).toContain(
      'holds a bottleneck (linear) adapter, which the PEFT format cannot express',
    );
    const model = await exportError(dirWith('model', 'config.json', 'model.safetensors'));
    expect(model.code).toBe('UNSUPPORTED_FEATURE');
    expect(model.message).toContain('is a whole model (full fine-tuning), not a LoRA adapter');
  });

  it('a missing path or a directory without a PEFT adapter is named', async () => {
    const missing = join(tmp, 'nope');
    expect((await exportError(missing)).message).toBe(`no such file or directory: ${missing}`);
    const other = dirWith('other', 'notes.txt');
    const e = await exportError(other);
    expect(e.code).toBe('CHECKPOINT_FORMAT');
    expect(e.message).toBe(
      `${other} is not an adapt run directory with a PEFT adapter (no peft/adapter_config.json)`,
    );
    const merged = await mergeCommand()
      .exitOverride()
      .parseAsync(['--peft', other, '--out', join(tmp, 'merged')], { from: 'user' })
      .catch((x: unknown) => x);
    expect((merged as AdapterError).code).toBe('CHECKPOINT_FORMAT');
  });
});
