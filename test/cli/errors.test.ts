import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { cliBatch, isOneShortLine } from './cli-process.js';

const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-cli-errors-'));
const base = join(tmp, 'base');
const base8 = join(tmp, 'base8');
const loraRun = join(tmp, 'lora');
const linear8Run = join(tmp, 'linear8');
const lora8Run = join(tmp, 'lora8');

/** Runs the CLI in-process, quietly (for setting up fixtures). */
async function quiet(...args: string[]): Promise<number> {
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true),
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true),
    vi.spyOn(console, 'log').mockImplementation(() => {}),
    vi.spyOn(console, 'error').mockImplementation(() => {}),
  ];
  try {
    return await main(['node', 'adapterkit', ...args]);
  } finally {
    for (const s of spies) s.mockRestore();
  }
}

const TINY = [
  '--layers',
  '1',
  '--heads',
  '2',
  '--d-ff',
  '32',
  '--seq-len',
  '16',
  '--batch',
  '4',
  '--steps',
  '2',
  '--progress',
  'none',
];
const ADAPT = ['--steps', '2', '--batch', '4', '--eval-windows', '4', '--progress', 'none'];

const broken = join(tmp, 'broken-peft');
const empty = join(tmp, 'not-an-artefact');
const lone = join(tmp, 'lone-adapter.safetensors');
let runs: ReturnType<typeof startAll>;

/** Every command the tests below look at, started together (two at a time) as real processes. */
function startAll() {
  return cliBatch({
    inspectBroken: ['inspect', broken],
    evalBroken: ['eval', '--base', base, '--adapter', broken, '--eval-windows', '2', '--progress', 'none'],
    emptyPrompt: ['generate', '--base', base, '--prompt', '', '--length', '3'],
    notArtefact: ['eval', '--base', base, '--adapter', empty, '--progress', 'none'],
    baseIsFile: ['eval', '--base', join(loraRun, 'result.json'), '--progress', 'none'],
    otherWidth: ['eval', '--base', base, '--adapter', lone, '--json', '--progress', 'none'],
    otherWidthPeft: ['generate', '--base', base, '--adapter', lora8Run, '--length', '3'],
    unknownFlag: ['eval', '--bogus'],
    badBackend: ['--backend', 'gpu', 'eval'],
    cpu: ['--backend', 'cpu', 'eval', '--base', base, '--eval-windows', '2', '--progress', 'none'],
    evalPeft: [
      'eval',
      '--adapter',
      join(loraRun, 'peft'),
      '--eval-windows',
      '4',
      '--json',
      '--progress',
      'none',
    ],
    generateRun: ['generate', '--adapter', loraRun, '--prompt', 'Ab', '--length', '8'],
  });
}

beforeAll(async () => {
  expect(await quiet('pretrain', '--d-model', '16', ...TINY, '--out', base)).toBe(0);
  expect(await quiet('pretrain', '--d-model', '8', ...TINY, '--out', base8)).toBe(0);
  expect(
    await quiet('adapt', '--base', base, '--method', 'lora', '--rank', '2', ...ADAPT, '--out', loraRun),
  ).toBe(0);
  expect(
    await quiet('adapt', '--base', base8, '--method', 'linear', '--dim', '4', ...ADAPT, '--out', linear8Run),
  ).toBe(0);
  expect(
    await quiet('adapt', '--base', base8, '--method', 'lora', '--rank', '2', ...ADAPT, '--out', lora8Run),
  ).toBe(0);
  cpSync(join(loraRun, 'peft'), broken, { recursive: true });
  writeFileSync(join(broken, 'adapter_config.json'), '{"peft_type": "LORA",');
  mkdirSync(empty);
  // An adapter file on its own (no run.json beside it): its config's input width is checked.
  cpSync(join(linear8Run, 'adapter.safetensors'), lone);
  runs = startAll();
});

describe('CLI errors reach the user as one line with exit code 1 or 2 (real processes)', () => {
  it('inspect of a PEFT directory with a broken adapter_config.json names the file (exit 1)', async () => {
    const r = await runs.inspectBroken;
    expect(r.status).toBe(1);
    expect(isOneShortLine(r.stderr)).toBe(true);
    expect(r.stderr).toContain(join(broken, 'adapter_config.json'));
    expect(r.stderr).toContain('not valid JSON');
    // eval through the library's PEFT loader says the same in its terms
    const ev = await runs.evalBroken;
    expect(ev.status).toBe(1);
    expect(isOneShortLine(ev.stderr)).toBe(true);
    expect(ev.stderr).toContain('adapter_config.json');
  });

  it("generate --prompt '' is a usage error naming the flag (exit 2)", async () => {
    const r = await runs.emptyPrompt;
    expect(r.status).toBe(2);
    expect(isOneShortLine(r.stderr)).toBe(true);
    expect(r.stderr).toContain('--prompt must not be empty');
  });

  it('eval --adapter on a directory that holds no artefact, or a file as --base, says what was expected (exit 1)', async () => {
    const r = await runs.notArtefact;
    expect(r.status).toBe(1);
    expect(isOneShortLine(r.stderr)).toBe(true);
    expect(r.stderr).toContain(empty);
    expect(r.stderr).toContain('PEFT directory');
    const file = await runs.baseIsFile;
    expect(file.status).toBe(1);
    expect(isOneShortLine(file.stderr)).toBe(true);
    expect(file.stderr).toContain('--base takes a model directory');
  });

  it('an adapter trained for another base says so in one line; --json adds the code on standard output', async () => {
    const r = await runs.otherWidth;
    expect(r.status).toBe(1);
    expect(isOneShortLine(r.stderr)).toBe(true);
    expect(r.stderr).toContain(
      `adapter 'adapted' in ${lone} was trained for d_model 8, this base (${base}) has 16`,
    );
    expect(JSON.parse(r.stdout.trim())).toMatchObject({
      event: 'error',
      code: 'CHECKPOINT_MISMATCH',
      exitCode: 1,
    });
    const peft = await runs.otherWidthPeft;
    expect(peft.status).toBe(1);
    expect(peft.stderr).toMatch(/trained for d_model 8, this base \(.*\) has d_model 16/);
  });

  it('unknown flags and bad values are usage errors (exit 2), one line', async () => {
    const r = await runs.unknownFlag;
    expect(r.status).toBe(2);
    expect(isOneShortLine(r.stderr)).toBe(true);
    expect(r.stderr).toContain("unknown option '--bogus'");
    const backend = await runs.badBackend;
    expect(backend.status).toBe(2);
    expect(backend.stderr).toContain('wasm, cpu');
  });

  it('--backend cpu prints no TensorFlow.js banner', async () => {
    const r = await runs.cpu;
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('eval and generate use a LoRA run: its PEFT directory or the run directory, on the base it recorded', async () => {
    const ev = await runs.evalPeft;
    expect(ev.stderr).toBe('');
    expect(ev.status).toBe(0);
    const record = JSON.parse(ev.stdout.trim()).record;
    expect(record.adapters).toEqual(['default']);
    expect(Number.isFinite(record.bpc)).toBe(true);
    const gen = await runs.generateRun;
    expect(gen.status).toBe(0);
    expect(gen.stdout.startsWith('Ab')).toBe(true);
  });

  it('after initBackend, an error in library code is reported by Node without the wasm glue source', async () => {
    const script = join(tmp, 'lib-error.mts');
    const src = new URL('../../src/', import.meta.url).pathname;
    writeFileSync(
      script,
      `import { initBackend } from '${src}backend/backend.ts';\nimport { tf } from '${src}backend/tf.ts';\nawait initBackend();\ntf.slice(tf.tensor([1, 2]), [-1]);\n`,
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('slice() does not support negative begin indexing');
    expect(r.stderr).not.toContain('WasmBackendModule');
    expect(Buffer.byteLength(r.stderr)).toBeLessThan(4000);
  });
});
