import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pretrainCommand } from '../../../src/cli/commands/pretrain.js';

const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-pretrain-'));

afterEach(() => vi.restoreAllMocks());

describe('pretrain', () => {
  it('saves a character LM of the given shape with pretrain.json recording its options and scores', async () => {
    const out = join(tmp, 'base');
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((s: string) => void lines.push(s));
    await pretrainCommand()
      .exitOverride()
      .parseAsync(
        [
          ...['--steps', '2', '--d-model', '16', '--layers', '1', '--heads', '2', '--d-ff', '32'],
          ...['--seq-len', '16', '--batch', '4', '--seed', '5', '--out', out, '--progress', 'none'],
        ],
        { from: 'user' },
      );
    expect(readdirSync(out).sort()).toEqual(['config.json', 'model.safetensors', 'pretrain.json']);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ dModel: 16, numLayers: 1, nHead: 2, dFF: 32, maxLen: 16 });
    const record = JSON.parse(readFileSync(join(out, 'pretrain.json'), 'utf8'));
    expect(record.options).toMatchObject({ steps: 2, batch: 4, seqLen: 16, seed: 5 });
    expect(record.heldOutBpc).toBeGreaterThan(0);
    expect(Number.isFinite(record.finalLoss)).toBe(true);
    expect(lines).toEqual([
      `saved ${out}: ${record.parameters} parameters, held-out Moby-Dick ${record.heldOutBpc.toFixed(3)} bpc`,
    ]);
  });

  it('refuses an --out that exists, naming --force', async () => {
    const before = readdirSync(tmp);
    await expect(
      pretrainCommand()
        .exitOverride()
        .parseAsync(['--out', tmp, '--steps', '1', '--progress', 'none'], { from: 'user' }),
    ).rejects.toThrow('pass --force to replace it');
    expect(readdirSync(tmp)).toEqual(before); // nothing written beside it
  });
});
