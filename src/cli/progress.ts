/**
 * Progress for long runs: a bar (step, loss, tokens/s, ETA) on a terminal, plain log lines when the
 * output is not a terminal, or JSON lines for a parent process to read.
 */
import cliProgress from 'cli-progress';
import { onInterrupt } from './interrupt.js';

/** How progress is shown. */
export type ProgressMode = 'bar' | 'lines' | 'json' | 'none';

/** Bars on a terminal, log lines otherwise. */
export function defaultProgressMode(): ProgressMode {
  return process.stderr.isTTY ? 'bar' : 'lines';
}

/** One progress update. */
export interface ProgressUpdate {
  step: number;
  loss: number;
  tokensPerSecond: number;
}

/** A progress display for one run of `total` steps. */
export interface Progress {
  update(u: ProgressUpdate): void;
  stop(): void;
}

const fmt = (n: number, d: number) => (Number.isFinite(n) ? n.toFixed(d) : '-');

/** Bars that are on screen, stopped (cursor and line wrap restored) by a signal or an error. */
const liveBars = new Set<{ stop(): void }>();

/**
 * Stops every bar still on screen, which shows the cursor again and turns line wrap back on. Runs on
 * SIGINT/SIGTERM and before an error is printed.
 */
export function stopAllProgress(): void {
  for (const bar of [...liveBars]) {
    liveBars.delete(bar);
    bar.stop();
  }
}
onInterrupt(stopAllProgress);

/** Tracks `bar` as live until its `stop()`. */
function tracked(bar: { stop(): void }): () => void {
  liveBars.add(bar);
  return () => {
    if (liveBars.delete(bar)) bar.stop();
  };
}

/** Where bars draw: standard error unless a test gives another stream. */
export interface ProgressStreamOption {
  stream?: NodeJS.WritableStream;
}

/** A progress display for `label` (one bar, or log lines every `every` steps). */
export function createProgress(
  label: string,
  total: number,
  mode: ProgressMode,
  every = Math.max(1, Math.round(total / 20)),
  opts: ProgressStreamOption = {},
): Progress {
  if (mode === 'bar') {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label.padEnd(16)} [{bar}] {value}/{total} loss {loss} | {tps} tok/s | ETA {eta_formatted}`,
        stream: opts.stream ?? process.stderr,
        hideCursor: true,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { loss: '-', tps: '-' });
    return {
      update: (u) => bar.update(u.step, { loss: fmt(u.loss, 4), tps: fmt(u.tokensPerSecond, 0) }),
      stop: tracked(bar),
    };
  }
  if (mode === 'json') {
    return {
      update: (u) => process.stdout.write(`${JSON.stringify({ event: 'step', label, total, ...u })}\n`),
      stop: () => {},
    };
  }
  if (mode === 'lines') {
    const t0 = Date.now();
    return {
      update: (u) => {
        if (u.step % every !== 0 && u.step !== total) return;
        const elapsed = (Date.now() - t0) / 1000;
        const eta = (elapsed / u.step) * (total - u.step);
        console.error(
          `${label}: step ${u.step}/${total} loss ${fmt(u.loss, 4)} ${fmt(u.tokensPerSecond, 0)} tok/s ETA ${fmt(eta, 0)}s`,
        );
      },
      stop: () => {},
    };
  }
  return { update: () => {}, stop: () => {} };
}

/** Several bars at once (one per concurrent run) on a terminal; log lines otherwise. */
export function createMultiProgress(mode: ProgressMode): {
  add(label: string, total: number): Progress;
  stop(): void;
} {
  if (mode !== 'bar') return { add: (label, total) => createProgress(label, total, mode), stop: () => {} };
  const multi = new cliProgress.MultiBar(
    {
      format: '{label} [{bar}] {value}/{total} loss {loss} | {tps} tok/s | ETA {eta_formatted}',
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  const stopMulti = tracked(multi);
  return {
    add: (label, total) => {
      const bar = multi.create(total, 0, { label: label.padEnd(16), loss: '-', tps: '-' });
      return {
        update: (u) => bar.update(u.step, { loss: fmt(u.loss, 4), tps: fmt(u.tokensPerSecond, 0) }),
        stop: () => bar.stop(),
      };
    },
    stop: stopMulti,
  };
}

/** Progress of a task counted in units (e.g. evaluation batches): a bar, log lines, JSON lines or nothing. */
export interface TaskProgress {
  update(done: number): void;
  stop(): void;
}

/** A progress display for `label` over `total` units. */
export function createTaskProgress(
  label: string,
  total: number,
  unit: string,
  mode: ProgressMode,
  opts: ProgressStreamOption = {},
): TaskProgress {
  if (mode === 'bar') {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label.padEnd(16)} [{bar}] {value}/{total} ${unit} | ETA {eta_formatted}`,
        stream: opts.stream ?? process.stderr,
        hideCursor: true,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
    return { update: (done) => bar.update(done), stop: tracked(bar) };
  }
  if (mode === 'json') {
    return {
      update: (done) =>
        process.stdout.write(`${JSON.stringify({ event: 'progress', label, done, total, unit })}\n`),
      stop: () => {},
    };
  }
  if (mode === 'lines') {
    const every = Math.max(1, Math.round(total / 10));
    const t0 = Date.now();
    return {
      update: (done) => {
        if (done % every !== 0 && done !== total) return;
        const elapsed = (Date.now() - t0) / 1000;
        console.error(
          `${label}: ${done}/${total} ${unit}, ETA ${fmt((elapsed / done) * (total - done), 0)}s`,
        );
      },
      stop: () => {},
    };
  }
  return { update: () => {}, stop: () => {} };
}
