import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_LR, methodFromFlags } from '../../../src/cli/commands/adapt.js';
import { UsageError } from '../../../src/cli/user-error.js';
import { ADAPT_METHODS } from '../../../src/recipes/adapt.js';
import { TINY_MODEL_FLAGS, runCli } from '../in-process.js';

/** The flags' defaults as `adapt` parses them. */
const flags = {
  method: 'lora',
  dim: 8,
  activation: 'relu' as const,
  normPosition: 'pre' as const,
  scaling: 4,
  rank: 4,
  targets: ['q_proj', 'v_proj'],
};

describe('adapt: methodFromFlags', () => {
  it('builds each method from the flags that apply to it', () => {
    expect(methodFromFlags(flags)).toEqual({
      kind: 'lora',
      r: 4,
      alpha: 8,
      targetModules: ['q_proj', 'v_proj'],
    });
    expect(methodFromFlags({ ...flags, alpha: 2 })).toMatchObject({ kind: 'lora', alpha: 2 });
    expect(methodFromFlags({ ...flags, method: 'linear' })).toEqual({
      kind: 'linear',
      dim: 8,
      activation: 'relu',
      normPosition: 'pre',
    });
    expect(methodFromFlags({ ...flags, method: 'parallel' })).toEqual({
      kind: 'parallel',
      dim: 8,
      scaling: 4,
    });
    expect(methodFromFlags({ ...flags, method: 'vera' })).toEqual({
      kind: 'vera',
      r: 4,
      targetModules: ['q_proj', 'v_proj'],
    });
    expect(methodFromFlags({ ...flags, method: 'full' })).toEqual({ kind: 'full' });
    expect(methodFromFlags({ ...flags, method: 'full', trainable: 'lm_head' })).toEqual({
      kind: 'full',
      trainable: 'lm_head',
    });
  });

  it('--trainable with another method than full is a usage error naming both flags', () => {
    const make = () => methodFromFlags({ ...flags, method: 'lora', trainable: 'lm_head' });
    expect(make).toThrow(UsageError);
    expect(make).toThrow('--trainable applies to --method full only (got --method lora)');
  });

  it('prefix and mam take --prefix-tokens, --prefix-projection, --prefix-hidden; mam reuses --dim and --scaling', () => {
    expect(methodFromFlags({ ...flags, method: 'prefix', prefixTokens: 8 })).toEqual({
      kind: 'prefix',
      numVirtualTokens: 8,
    });
    expect(
      methodFromFlags({
        ...flags,
        method: 'prefix',
        prefixTokens: 8,
        prefixProjection: true,
        prefixHidden: 32,
      }),
    ).toEqual({ kind: 'prefix', numVirtualTokens: 8, prefixProjection: true, encoderHiddenSize: 32 });
    expect(methodFromFlags({ ...flags, method: 'mam', prefixTokens: 4 })).toEqual({
      kind: 'mam',
      numVirtualTokens: 4,
      dim: 8,
      scaling: 4,
    });
  });

  it('prefix flags with another method, or --prefix-hidden without --prefix-projection, are usage errors naming the flags', () => {
    const other = () => methodFromFlags({ ...flags, method: 'lora', prefixProjection: true });
    expect(other).toThrow(UsageError);
    expect(other).toThrow('--prefix-projection applies to --method prefix or mam only (got --method lora)');
    const hidden = () => methodFromFlags({ ...flags, method: 'prefix', prefixTokens: 4, prefixHidden: 8 });
    expect(hidden).toThrow('add --prefix-projection');
  });

  it('has a default learning rate for every method', () => {
    for (const m of ADAPT_METHODS) expect(DEFAULT_LR[m]).toBeGreaterThan(0);
  });
});

describe('adapt --method vera', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-adapt-vera-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const quick = ['--steps', '2', '--batch', '4', '--eval-windows', '2', '--progress', 'none'];

  it('trains VeRA on the chosen targets and writes a PEFT VeRA directory; an unknown target names the modules present', async () => {
    const base = join(tmp, 'base');
    expect(
      (await runCli('pretrain', ...TINY_MODEL_FLAGS, '--steps', '2', '--progress', 'none', '--out', base))
        .code,
    ).toBe(0);
    const run = join(tmp, 'vera');
    const r = await runCli(
      'adapt',
      '--base',
      base,
      '--method',
      'vera',
      '--rank',
      '16',
      '--targets',
      'q_proj,fc1',
      ...quick,
      '--out',
      run,
    );
    expect(r.code).toBe(0);
    const cfg = JSON.parse(readFileSync(join(run, 'peft', 'adapter_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(cfg).toMatchObject({
      peft_type: 'VERA',
      r: 16,
      target_modules: ['fc1', 'q_proj'],
      save_projection: true,
    });
    const ev = await runCli(
      'eval',
      '--base',
      base,
      '--adapter',
      run,
      '--eval-windows',
      '2',
      '--progress',
      'none',
    );
    expect(ev.code).toBe(0);
    const bad = await runCli(
      'adapt',
      '--base',
      base,
      '--method',
      'vera',
      '--targets',
      'qproj',
      ...quick,
      '--out',
      join(tmp, 'bad'),
    );
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("'qproj' not found");
    expect(bad.err).toContain('q_proj');
  });
});
