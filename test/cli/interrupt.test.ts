import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { handleSignal, onInterrupt } from '../../src/cli/interrupt.js';
import { main } from '../../src/cli/main.js';
import { createProgress } from '../../src/cli/progress.js';
import { loadTrainerCheckpoint } from '../../src/train/checkpoint-files.js';
import { isOneShortLine, startCli } from './cli-process.js';

const tmp = mkdtempSync(join(tmpdir(), 'adapterkit-cli-interrupt-'));
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
const adaptArgs = (out: string) => ['adapt', '--base', base, '--method', 'linear', '--dim', '4', '--steps', String(STEPS), '--batch', '4', '--eval-windows', '4', '--checkpoint-every', '5', '--out', out];

beforeAll(async () => {
  const tiny = ['--d-model', '16', '--layers', '1', '--heads', '2', '--d-ff', '32', '--seq-len', '16', '--batch', '4'];
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
    expect(lastLine).toMatch(/^interrupted by SIGINT after step \d+ of 60; .* keeps metrics\.jsonl and the checkpoint of step \d+/);
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
    expect(JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')).finalLoss).toBe(metrics(reference).at(-1)![1]);

    // --force replaces a finished run.
    const forced = await run(...adaptArgs(out), '--steps', '2', '--force', '--progress', 'none');
    expect(forced.code).toBe(0);
    expect(metrics(out)).toHaveLength(2);
  });

  it('a failed run removes the directory it created; without --out no runs/adapt-<time>/ is left', async () => {
    const out = join(tmp, 'nested', 'failed');
    const failing = ['adapt', '--base', base, '--method', 'full', '--trainable', 'matches-nothing', '--progress', 'none'];
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
