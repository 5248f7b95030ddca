import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, TINY_MODEL_FLAGS } from './in-process.js';

const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-cli-'));
const base = join(tmp, 'base');

beforeAll(async () => {
  const r = await runCli(
    'pretrain',
    '--steps',
    '3',
    ...TINY_MODEL_FLAGS,
    '--out',
    base,
    '--progress',
    'none',
  );
  expect(r.code).toBe(0);
});

afterEach(() => vi.restoreAllMocks());

describe('adapterkit CLI', () => {
  it('every command has --help', async () => {
    for (const c of [
      'demo',
      'pretrain',
      'adapt',
      'eval',
      'generate',
      'inspect',
      'merge',
      'export',
      'sweep',
      'spam',
    ]) {
      const r = await runCli(c, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toContain(`Usage: adapterkit ${c}`);
    }
  });

  it('rejects bad flag values naming the valid values', async () => {
    const method = await runCli('adapt', '--method', 'adaptr');
    expect(method.code).not.toBe(0);
    expect(method.err).toContain('full, linear, parallel, lora');
    const steps = await runCli('adapt', '--steps', '0');
    expect(steps.code).not.toBe(0);
    expect(steps.err).toContain('--steps must be a whole number ≥ 1');
    const lr = await runCli('adapt', '--lr', '-1');
    expect(lr.err).toContain('--lr must be a number > 0');
    const dataset = await runCli('eval', '--dataset', 'wikipedia');
    expect(dataset.err).toContain('mobydick, sotu');
    const backend = await runCli('--backend', 'gpu', 'eval');
    expect(backend.code).toBe(2);
    expect(backend.err).toContain('wasm, cpu');
  });

  it('refuses to overwrite an existing run directory', async () => {
    const r = await runCli('adapt', '--base', base, '--out', base, '--steps', '1');
    expect(r.code).toBe(1);
    expect(r.err).toContain('already exists');
  });

  it('a tiny adapt run trains an adapter, evaluates it and saves it; eval, generate and inspect use it', async () => {
    const out = join(tmp, 'run-linear');
    const r = await runCli(
      'adapt',
      '--base',
      base,
      '--method',
      'linear',
      '--dim',
      '4',
      '--steps',
      '3',
      '--batch',
      '4',
      '--eval-windows',
      '8',
      '--out',
      out,
      '--progress',
      'none',
    );
    expect(r.code).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(result.trainableParams).toBeGreaterThan(0);
    expect(result.trainableParams).toBeLessThan(result.totalParams);
    expect(Number.isFinite(result.heldOutBpc)).toBe(true);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    const file = join(out, 'adapter.safetensors');
    expect(existsSync(file)).toBe(true);

    const ev = await runCli('eval', '--base', base, '--adapter', file, '--windows', '8');
    expect(ev.code).toBe(0);
    expect(ev.out).toMatch(/bits per character \(with adapted\)/);
    const gen = await runCli(
      'generate',
      '--base',
      base,
      '--adapter',
      file,
      '--length',
      '10',
      '--prompt',
      'Ab',
    );
    expect(gen.code).toBe(0);
    expect(gen.out.startsWith('Ab')).toBe(true);
    const ins = await runCli('inspect', file);
    expect(ins.code).toBe(0);
    expect(ins.out).toContain('adapter adapted: type linear');
    const insModel = await runCli('inspect', base);
    expect(insModel.out).toContain('char-lm checkpoint');
  });

  it('--trainable fine-tunes only the matching parameters and leaves the rest bit-identical', async () => {
    const out = join(tmp, 'run-partial');
    const r = await runCli(
      'adapt',
      '--base',
      base,
      '--method',
      'full',
      '--trainable',
      '^lm_head\\.',
      '--steps',
      '2',
      '--batch',
      '4',
      '--eval-windows',
      '8',
      '--out',
      out,
      '--progress',
      'none',
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain('partial-finetune');
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    const cfg = JSON.parse(readFileSync(join(base, 'config.json'), 'utf8'));
    expect(result.trainableParams).toBe(cfg.dModel * cfg.vocabSize + cfg.vocabSize);
    const { parseSafetensors } = await import('../../src/io/safetensors.js');
    const before = parseSafetensors(readFileSync(join(base, 'model.safetensors')));
    const after = parseSafetensors(readFileSync(join(out, 'model', 'model.safetensors')));
    expect(before.tensors.size).toBeGreaterThan(2);
    for (const [name, entry] of before.tensors) {
      const same = Buffer.from(entry.data).equals(Buffer.from(after.tensors.get(name)!.data));
      expect([name, same]).toEqual([name, !name.startsWith('lm_head.')]);
    }
    const invalid = await runCli(
      'adapt',
      '--base',
      base,
      '--method',
      'full',
      '--trainable',
      '(',
      '--out',
      join(tmp, 'p1'),
      '--progress',
      'none',
    );
    expect(invalid.code).toBe(1);
    expect(invalid.err).toContain('not a valid regular expression');
    const none = await runCli(
      'adapt',
      '--base',
      base,
      '--method',
      'full',
      '--trainable',
      'nothing-here',
      '--out',
      join(tmp, 'p2'),
      '--progress',
      'none',
    );
    expect(none.code).toBe(1);
    expect(none.err).toContain('matches no parameter path');
    expect(none.err).toContain('tok_emb.weight');
    const wrongMethod = await runCli(
      'adapt',
      '--base',
      base,
      '--method',
      'linear',
      '--trainable',
      'ffn',
      '--out',
      join(tmp, 'p3'),
      '--progress',
      'none',
    );
    expect(wrongMethod.code).toBe(2);
    expect(wrongMethod.err).toContain('--method full only');
  });

  it('a LoRA run saves a PEFT directory that merge and export accept; full fine-tuning saves a model', async () => {
    const out = join(tmp, 'run-lora');
    const r = await runCli(
      'adapt',
      '--base',
      base,
      '--method',
      'lora',
      '--rank',
      '2',
      '--steps',
      '2',
      '--batch',
      '4',
      '--eval-windows',
      '8',
      '--out',
      out,
      '--progress',
      'none',
    );
    expect(r.code).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(result.disabledHeldOutBpc).toBeTypeOf('number');
    expect(existsSync(join(out, 'peft', 'adapter_config.json'))).toBe(true);
    const merged = await runCli(
      'merge',
      '--base',
      base,
      '--peft',
      join(out, 'peft'),
      '--out',
      join(tmp, 'merged'),
    );
    expect(merged.code).toBe(0);
    const ev = await runCli('eval', '--base', join(tmp, 'merged'), '--windows', '8');
    expect(ev.code).toBe(0);
    const exp = await runCli(
      'export',
      '--format',
      'peft',
      '--run',
      out,
      '--base',
      base,
      '--dtype',
      'bfloat16',
      '--out',
      join(tmp, 'exported'),
    );
    expect(exp.code).toBe(0);
    expect((await runCli('inspect', join(tmp, 'exported'))).out).toContain('BF16');
    const badFormat = await runCli('export', '--format', 'onnx', '--run', out, '--out', join(tmp, 'x'));
    expect(badFormat.err).toContain('peft');
    const fromLinear = await runCli(
      'export',
      '--format',
      'peft',
      '--run',
      join(tmp, 'run-linear'),
      '--base',
      base,
      '--out',
      join(tmp, 'y'),
    );
    expect(fromLinear.code).toBe(1);
    expect(fromLinear.err).toContain('cannot express');
    const full = join(tmp, 'run-full');
    expect(
      (
        await runCli(
          'adapt',
          '--base',
          base,
          '--method',
          'full',
          '--steps',
          '2',
          '--batch',
          '4',
          '--eval-windows',
          '8',
          '--out',
          full,
          '--progress',
          'none',
        )
      ).code,
    ).toBe(0);
    expect(existsSync(join(full, 'model', 'model.safetensors'))).toBe(true);
  });

  it('inspect gives a clear error on a corrupt file and on a missing path', async () => {
    const bad = join(tmp, 'bad.safetensors');
    writeFileSync(bad, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0x5b]));
    const r = await runCli('inspect', bad);
    expect(r.code).toBe(1);
    expect(r.err).toContain(bad);
    const missing = await runCli('inspect', join(tmp, 'nope'));
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no such file or directory');
  });

  it('eval refuses a checkpoint that is not a character LM', async () => {
    const dir = join(tmp, 'not-lm');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model: 'mlp-classifier' }));
    writeFileSync(join(dir, 'model.safetensors'), readFileSync(join(base, 'model.safetensors')));
    const r = await runCli('eval', '--base', dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain("needs a 'char-lm' checkpoint");
  });
});
