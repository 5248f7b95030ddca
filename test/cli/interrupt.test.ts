import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { handleSignal, onInterrupt } from '../../src/cli/interrupt.js';
import { main } from '../../src/cli/main.js';
import { createProgress } from '../../src/cli/progress.js';
import { loadTrainerCheckpoint } from '../../src/train/checkpoint-files.js';
import { isOneShortLine, startCli } from './cli-process.js';
import { TINY_MODEL_FLAGS } from './in-process.js';

const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-cli-interrupt-'));
const root = fileURLToPath(new URL('../..', import.meta.url));
const hasScript = spawnSync('script', ['--version']).status === 0;
const base = join(tmp, 'base');

/** Runs the CLI in-process; returns the exit code and standard error. */
async function run(...args: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true),
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true)),
    vi.spyOn(console, 'log').mockImplementation(() => {}),
    vi.spyOn(console, 'error').mockImplementation((...a) => void (err += `${a.join(' ')}\n`)),
  ];
  try {
    return { code: await main(['node', 'adapterkit', ...args]), err };
  } finally {
    for (const s of spies) s.mockRestore();
  }
}

/** The `(step, loss)` pairs of a run's metrics.jsonl. */
function metrics(dir: string): Array<[number, number]> {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { step: number; loss: number })
    .map((m) => [m.step, m.loss]);
}

const STEPS = 60;
const adaptArgs = (out: string) => [
  'adapt',
  '--base',
  base,
  '--method',
  'linear',
  '--dim',
  '4',
  '--steps',
  String(STEPS),
  '--batch',
  '4',
  '--eval-windows',
  '4',
  '--checkpoint-every',
  '5',
  '--out',
  out,
];

beforeAll(async () => {
  const tiny = TINY_MODEL_FLAGS;
  expect((await run('pretrain', '--steps', '2', ...tiny, '--out', base, '--progress', 'none')).code).toBe(0);
});

describe('interrupted and failed runs', () => {
  it('a signal stops the progress bar: the cursor is shown again and line wrap turned back on', () => {
    let written = '';
    const tty = Object.assign(
      new Writable({
        write(chunk, _enc, cb) {
          written += String(chunk);
          cb();
        },
      }),
      { isTTY: true, columns: 100, rows: 30 },
    );
    const bar = createProgress('adapt', 10, 'bar', 1, { stream: tty as unknown as NodeJS.WritableStream });
    bar.update({ step: 3, loss: 2.5, tokensPerSecond: 100 });
    expect(written).toContain('\x1b[?25l'); // cursor hidden while the bar runs
    expect(written).toContain('\x1b[?7l'); // line wrap off
    const exit = vi.fn();
    const cleanup = vi.fn();
    const off = onInterrupt(cleanup);
    handleSignal('SIGINT', exit);
    off();
    expect(cleanup).toHaveBeenCalled();
    expect(exit).toHaveBeenCalledWith(130); // nothing was running that stops by itself
    expect(written.lastIndexOf('\x1b[?25h')).toBeGreaterThan(written.lastIndexOf('\x1b[?25l'));
    expect(written.lastIndexOf('\x1b[?7h')).toBeGreaterThan(written.lastIndexOf('\x1b[?7l'));
    const before = written.length;
    bar.stop(); // already stopped by the signal: nothing more is drawn
    expect(written.length).toBe(before);
  });

  it('on a real terminal (a pty from script(1)), Ctrl-C during the adapt progress bar leaves the cursor shown and line wrap on', async () => {
    if (!hasScript) {
      const msg =
        'script(1) (util-linux/bsdutils) not found: the pseudo-terminal Ctrl-C test did not run; install bsdutils to enable it';
      if (process.env.CI === 'true') throw new Error(msg);
      console.warn(`!!! ${msg}`);
      return;
    }
    const out = join(tmp, 'on-a-tty');
    const log = join(tmp, 'tty.log');
    const command = [
      process.execPath,
      '--import',
      'tsx',
      join(root, 'src/cli/main.ts'),
      ...adaptArgs(out).slice(0, -2),
      '--steps',
      '3000',
      '--out',
      out,
    ];
    const script = spawn('script', ['-qfec', command.map((a) => `'${a}'`).join(' '), log], {
      cwd: root,
      stdio: 'ignore',
    });
    let done = false;
    const exited = new Promise((r) => script.on('close', r)).then(() => (done = true));
    const metricsFile = join(out, 'metrics.jsonl');
    while (!done && !(existsSync(metricsFile) && readFileSync(metricsFile, 'utf8').split('\n').length > 5))
      await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    // The node process running under the pty (script's shell may have exec'd it).
    const pid = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .find((d) => {
        try {
          return (
            readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'node' &&
            readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(out)
          );
        } catch {
          return false;
        }
      });
    expect(pid).toBeDefined();
    process.kill(Number(pid), 'SIGINT');
    await exited;
    const tty = readFileSync(log, 'latin1');
    expect(tty).toContain('\x1b[?25l'); // the bar hid the cursor …
    expect(tty.lastIndexOf('\x1b[?25h')).toBeGreaterThan(tty.lastIndexOf('\x1b[?25l')); // … and it is shown again
    expect(tty.lastIndexOf('\x1b[?7h')).toBeGreaterThan(tty.lastIndexOf('\x1b[?7l'));
    expect(tty).toMatch(/interrupted by SIGINT after step \d+ of 3000/);
    expect(tty).toContain('COMMAND_EXIT_CODE="130"');
  });

  it('SIGINT during adapt exits 130 and keeps metrics.jsonl (one line per step done) and a usable checkpoint; --resume finishes it exactly as an uninterrupted run', async () => {
    const out = join(tmp, 'interrupted');
    const p = startCli(...adaptArgs(out), '--progress', 'lines');
    // Signal once a dozen steps are on disk.
    const metricsFile = join(out, 'metrics.jsonl');
    while (!(existsSync(metricsFile) && readFileSync(metricsFile, 'utf8').split('\n').length > 12)) {
      if (p.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    p.child.kill('SIGINT');
    expect(await p.exit).toBe(130);
    const lastLine = p.out.stderr.trim().split('\n').at(-1)!;
    expect(lastLine).toMatch(
      /^interrupted by SIGINT after step \d+ of 60; .* keeps metrics\.jsonl and the checkpoint of step \d+/,
    );
    const done = metrics(out);
    expect(done.length).toBeGreaterThanOrEqual(12);
    expect(done.length).toBeLessThan(STEPS);
    expect(done.map(([s]) => s)).toEqual(done.map((_, i) => i + 1));
    const ckpts = readdirSync(join(out, 'checkpoints'));
    expect(ckpts).toHaveLength(1);
    const ckpt = await loadTrainerCheckpoint(join(out, 'checkpoints', ckpts[0]!));
    expect(ckpt.step % 5).toBe(0);
    expect(ckpt.step).toBeLessThanOrEqual(done.length);
    expect(ckpt.losses).toEqual(done.slice(0, ckpt.step).map(([, l]) => l));
    expect(existsSync(join(out, 'result.json'))).toBe(false);

    // Rerunning the same command is refused, naming both ways on.
    const again = await run(...adaptArgs(out), '--progress', 'none');
    expect(again.code).toBe(1);
    expect(isOneShortLine(again.err)).toBe(true);
    expect(again.err).toContain('already exists');
    expect(again.err).toContain('--resume');
    expect(again.err).toContain('--force');

    // --resume continues from the checkpoint; the losses are the uninterrupted run's, bit for bit.
    const resumed = await run('adapt', '--out', out, '--resume', '--progress', 'none');
    expect(resumed.code).toBe(0);
    const reference = join(tmp, 'uninterrupted');
    expect((await run(...adaptArgs(reference), '--progress', 'none')).code).toBe(0);
    expect(metrics(out)).toEqual(metrics(reference));
    expect(existsSync(join(out, 'checkpoints'))).toBe(false); // a finished run drops its checkpoints
    expect(JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')).finalLoss).toBe(
      metrics(reference).at(-1)![1],
    );

    // --force replaces a finished run.
    const forced = await run(...adaptArgs(out), '--steps', '2', '--force', '--progress', 'none');
    expect(forced.code).toBe(0);
    expect(metrics(out)).toHaveLength(2);
  });

  it('a failed run removes the directory it created; without --out no runs/adapt-<time>/ is left', async () => {
    const out = join(tmp, 'nested', 'failed');
    const failing = [
      'adapt',
      '--base',
      base,
      '--method',
      'full',
      '--trainable',
      'matches-nothing',
      '--progress',
      'none',
    ];
    const r = await run(...failing, '--out', out);
    expect(r.code).toBe(1);
    expect(r.err).toContain('matches no parameter path');
    expect(existsSync(join(tmp, 'nested'))).toBe(false);
    const cwd = process.cwd();
    const work = mkdtempSync(join(tmpdir(), 'adapterkit-cwd-'));
    process.chdir(work);
    try {
      expect((await run(...failing)).code).toBe(1);
    } finally {
      process.chdir(cwd);
    }
    expect(readdirSync(work)).toEqual([]);
    // A failed --force run leaves the directory it was to replace as it was.
    const earlier = join(tmp, 'earlier');
    expect((await run(...adaptArgs(earlier), '--steps', '2', '--progress', 'none')).code).toBe(0);
    const before = readFileSync(join(earlier, 'result.json'), 'utf8');
    expect((await run(...failing, '--out', earlier, '--force')).code).toBe(1);
    expect(readFileSync(join(earlier, 'result.json'), 'utf8')).toBe(before);
    expect(readdirSync(tmp).filter((f) => f.startsWith('earlier'))).toEqual(['earlier']);
  });

  it('--force replaces only adapterkit output directories', async () => {
    const mine = join(tmp, 'not-a-run');
    mkdirSync(mine);
    writeFileSync(join(mine, 'notes.txt'), 'keep me');
    const r = await run('pretrain', '--out', mine, '--force', '--steps', '1', '--progress', 'none');
    expect(r.code).toBe(1);
    expect(r.err).toContain('is not an adapterkit output directory');
    expect(readFileSync(join(mine, 'notes.txt'), 'utf8')).toBe('keep me');
  });
});
