import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TINY_MODEL_FLAGS } from '../in-process.js';

const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-demo-'));

/** Runs the CLI as a real process (the main job starts child processes of itself). */
function cli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 240_000,
  });
}

describe('adapterkit demo (the main job), on a tiny base model', () => {
  it('trains every method in child processes and writes results.json, report.md, curves and what each method trained', () => {
    const base = join(tmp, 'base');
    const tiny = TINY_MODEL_FLAGS;
    expect(cli('pretrain', '--steps', '3', ...tiny, '--out', base, '--progress', 'none').status).toBe(0);
    const out = join(tmp, 'runs');
    const r = cli(
      'demo',
      '--base',
      base,
      '--steps',
      '2',
      '--eval-windows',
      '4',
      '--methods',
      'linear-adapter,lora-ffn,full-finetune',
      '--out',
      out,
      '--progress',
      'none',
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [runDir] = readdirSync(out);
    const dir = join(out, runDir!);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    expect(results.task).toBe('mobydick-to-sotu');
    expect(results.backend).toBe('wasm');
    expect(results.base.heldOutBpc).toBeGreaterThan(0);
    expect(results.methods.map((m: { name: string }) => m.name)).toEqual([
      'linear-adapter',
      'lora-ffn',
      'full-finetune',
    ]);
    const byName = Object.fromEntries(results.methods.map((m: { name: string }) => [m.name, m]));
    // Disabling an adapter reproduces the base model's figures, computed in another process, exactly.
    expect(byName['linear-adapter'].disabledMatchesBase).toBe(true);
    expect(byName['lora-ffn'].disabledMatchesBase).toBe(true);
    expect(byName['full-finetune'].recoveredOfFullFinetune).toBe(1);
    expect(byName['lora-ffn'].description).toContain('fc1, fc2');
    for (const m of results.methods) {
      for (const key of [
        'trainableParams',
        'totalParams',
        'heldOutBpc',
        'sourceHeldOutBpc',
        'seconds',
        'tokensPerSecond',
      ])
        expect(m[key]).toBeTypeOf('number');
    }
    expect(byName['lora-ffn'].trainableParams).toBeLessThan(byName['full-finetune'].trainableParams);
    for (const f of [
      'report.md',
      'loss-curves.svg',
      'metrics.jsonl',
      'linear-adapter/adapter.safetensors',
      'lora-ffn/peft/adapter_config.json',
      'full-finetune/model/model.safetensors',
    ]) {
      expect([f, existsSync(join(dir, f))]).toEqual([f, true]);
    }
    expect(r.stdout).toContain('| lora-ffn | LoRA r 8 on the feed-forward layers fc1, fc2 |');
  }, 300_000);

  it('refuses a method list without full fine-tuning, naming why', () => {
    const r = cli('demo', '--methods', 'linear-adapter', '--out', join(tmp, 'x'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--methods must include full-finetune');
  });
});
