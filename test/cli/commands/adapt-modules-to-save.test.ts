/** `adapterkit adapt --modules-to-save` (SPEC §5.2): the adapter owns trainable copies of modules. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { methodFromFlags } from '../../../src/cli/commands/adapt.js';
import { describeAdapterFile } from '../../../src/cli/commands/inspect.js';
import { UsageError } from '../../../src/cli/user-error.js';
import { parseAdapterFile } from '../../../src/io/adapter-file.js';
import { runCli, TINY_MODEL_FLAGS } from '../in-process.js';

const flags = {
  method: 'linear',
  dim: 4,
  activation: 'relu' as const,
  normPosition: 'pre' as const,
  scaling: 4,
  rank: 2,
  targets: ['q_proj', 'v_proj'],
};
const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-mts-'));
const base = join(tmp, 'base');
const ADAPT = ['--base', base, '--steps', '2', '--batch', '4', '--eval-windows', '4', '--progress', 'none'];

describe('adapt --modules-to-save', () => {
  beforeAll(async () => {
    const r = await runCli(
      'pretrain',
      ...TINY_MODEL_FLAGS,
      '--steps',
      '2',
      '--progress',
      'none',
      '--out',
      base,
    );
    expect(r.code, r.err).toBe(0);
  });

  it('methodFromFlags passes the paths to adapter methods (space- or comma-separated) and refuses them with --method full', () => {
    expect(methodFromFlags({ ...flags, modulesToSave: ['lm_head'] })).toMatchObject({
      kind: 'linear',
      modulesToSave: ['lm_head'],
    });
    expect(
      methodFromFlags({ ...flags, method: 'lora', modulesToSave: ['lm_head,decoder.norm'] }),
    ).toMatchObject({
      kind: 'lora',
      modulesToSave: ['lm_head', 'decoder.norm'],
    });
    expect(methodFromFlags(flags)).not.toHaveProperty('modulesToSave');
    expect(() => methodFromFlags({ ...flags, method: 'full', modulesToSave: ['lm_head'] })).toThrow(
      UsageError,
    );
    expect(() => methodFromFlags({ ...flags, modulesToSave: ['a,,b'] })).toThrow(/module paths/);
  });

  it('a linear adapter with a copy of lm_head saves the copy with the adapter; inspect lists it and eval loads it', async () => {
    const out = join(tmp, 'linear');
    const r = await runCli(
      'adapt',
      ...ADAPT,
      '--method',
      'linear',
      '--dim',
      '4',
      '--modules-to-save',
      'lm_head',
      '--out',
      out,
    );
    expect(r.code, r.err).toBe(0);
    const file = parseAdapterFile(readFileSync(join(out, 'adapter.safetensors')));
    expect(file.headsIndex.adapted).toContain('adapted/heads/lm_head/copy/weight');
    const listing = describeAdapterFile(
      readFileSync(join(out, 'adapter.safetensors')),
      'adapter.safetensors',
    );
    expect(listing.some((l) => /^ {2}heads: [\d,]+ parameters$/.test(l))).toBe(true);
    expect(listing.some((l) => l.startsWith('  adapted/heads/lm_head/copy/weight F32'))).toBe(true);
    const ev = await runCli(
      'eval',
      '--base',
      base,
      '--adapter',
      out,
      '--eval-windows',
      '2',
      '--progress',
      'none',
    );
    expect(ev.code, ev.err).toBe(0); // the run's adapter, copy included, loads into the base again
  });

  it('LoRA with modules_to_save writes PEFT’s modules_to_save', async () => {
    const out = join(tmp, 'lora');
    const r = await runCli(
      'adapt',
      ...ADAPT,
      '--method',
      'lora',
      '--rank',
      '2',
      '--modules-to-save',
      'lm_head',
      '--out',
      out,
    );
    expect(r.code, r.err).toBe(0);
    const cfg = JSON.parse(readFileSync(join(out, 'peft', 'adapter_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(cfg.modules_to_save).toEqual(['lm_head']);
  });

  it('an unknown module path fails naming it and listing valid paths, for both kinds of method', async () => {
    for (const method of [
      ['--method', 'linear', '--dim', '4'],
      ['--method', 'lora', '--rank', '2'],
    ]) {
      const r = await runCli(
        'adapt',
        ...ADAPT,
        ...method,
        '--modules-to-save',
        'lm_haed',
        '--out',
        join(tmp, `bad-${method[1]}`),
      );
      expect(r.code).not.toBe(0);
      expect(r.err).toContain("'lm_haed'");
      expect(r.err).toContain('lm_head');
    }
  });
});
