import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { locateArtefact } from '../../src/cli/artefact.js';
import { AdapterError } from '../../src/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-artefact-'));

/** Makes `dir` holding empty `files` (paths may have one subdirectory). */
function dirWith(name: string, ...files: string[]): string {
  const dir = join(tmp, name);
  for (const f of files) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), '');
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function errorOf(path: string): Promise<AdapterError> {
  const e = await locateArtefact(path).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(AdapterError);
  return e as AdapterError;
}

describe('locateArtefact', () => {
  it('tells PEFT directories, model directories and adapter files apart', async () => {
    const peft = dirWith('peft', 'adapter_config.json', 'adapter_model.safetensors');
    const model = dirWith('model', 'config.json', 'model.safetensors');
    const file = join(dirWith('files', 'adapter.safetensors'), 'adapter.safetensors');
    expect(await locateArtefact(peft)).toEqual({ kind: 'peft', path: peft });
    expect(await locateArtefact(model)).toEqual({ kind: 'model', path: model });
    expect(await locateArtefact(file)).toEqual({ kind: 'adapter-file', path: file });
  });

  it('the weights file of a PEFT or model directory stands for its directory', async () => {
    const peft = dirWith('peft2', 'adapter_config.json', 'adapter_model.safetensors');
    const model = dirWith('model2', 'config.json', 'model.safetensors');
    expect(await locateArtefact(join(peft, 'adapter_model.safetensors'))).toEqual({
      kind: 'peft',
      path: peft,
    });
    expect(await locateArtefact(join(model, 'model.safetensors'))).toEqual({ kind: 'model', path: model });
  });

  it('a run directory resolves to what its run saved', async () => {
    const lora = dirWith('run-lora', 'run.json', 'peft/adapter_config.json');
    const linear = dirWith('run-linear', 'run.json', 'adapter.safetensors');
    const full = dirWith('run-full', 'result.json', 'model/model.safetensors');
    expect(await locateArtefact(lora)).toEqual({ kind: 'peft', path: join(lora, 'peft') });
    expect(await locateArtefact(linear)).toEqual({
      kind: 'adapter-file',
      path: join(linear, 'adapter.safetensors'),
    });
    expect(await locateArtefact(full)).toEqual({ kind: 'model', path: join(full, 'model') });
  });

  it('names what was expected: a missing path, an unfinished run, an unrelated directory', async () => {
    const missing = await errorOf(join(tmp, 'nope'));
    expect(missing.code).toBe('INVALID_INPUT');
    expect(missing.message).toBe(`no such file or directory: ${join(tmp, 'nope')}`);
    const unfinished = dirWith('run-unfinished', 'run.json', 'metrics.jsonl');
    const u = await errorOf(unfinished);
    expect(u.code).toBe('CHECKPOINT_FORMAT');
    expect(u.message).toContain(`resume it with adapt --resume --out ${unfinished}`);
    const other = await errorOf(dirWith('photos', 'cat.jpg'));
    expect(other.message).toContain(
      'is a directory but none of: an adapter file (.safetensors), a PEFT directory',
    );
  });
});
