/**
 * Output directories of the commands that write one (`adapt`, `pretrain`, `merge`, `export`, `demo`,
 * `sweep`). A command never writes into an existing directory unless told: `--force` replaces an earlier
 * adapterkit output (moved aside while the new one is written, and put back if the command fails),
 * `--resume` (adapt) continues an interrupted run. A command that fails removes the
 * directory it created (and the parents it had to create), so no half-written run is left behind; one
 * stopped by Ctrl-C keeps it, with its metrics and last checkpoint, to be resumed or inspected.
 */
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AdapterError } from '../errors.js';
import { Interrupted } from './interrupt.js';
import { UsageError } from './user-error.js';

/** Files any adapterkit output directory holds; `--force` replaces only directories with one of them. */
const OUTPUT_MARKERS = [
  'run.json',
  'result.json',
  'metrics.jsonl',
  'results.json',
  'pretrain.json',
  'config.json',
  'adapter_config.json',
];

/** How to treat an existing directory. */
export interface OutputDirOptions {
  /** Replace an existing adapterkit output directory. */
  force?: boolean;
  /** Continue in an existing directory (the command resumes its run). */
  resume?: boolean;
  /** The command supports `--resume` (mentioned when the directory exists). */
  resumable?: boolean;
}

/** An output directory a command is writing. */
export interface OutputDir {
  path: string;
  /** True when the command continues an earlier run in it (`--resume`). */
  resumed: boolean;
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}

async function isAdapterkitOutput(dir: string): Promise<boolean> {
  const files = await readdir(dir).catch(() => null);
  if (files === null) return false;
  return files.length === 0 || files.some((f) => OUTPUT_MARKERS.includes(f));
}

/**
 * Runs `fn` with `dir` as its output directory: creates it (see {@link OutputDirOptions} for an existing
 * one), and removes what it created if `fn` fails for any reason other than a signal.
 */
export async function withOutputDir<T>(
  dir: string,
  opts: OutputDirOptions,
  fn: (out: OutputDir) => Promise<T>,
): Promise<T> {
  if (opts.force && opts.resume)
    throw new UsageError(
      '--force and --resume exclude each other: --force starts the run again, --resume continues it',
    );
  let created: string | undefined;
  let resumed = false;
  /** With --force, the earlier directory, moved aside until the new run has something to keep. */
  let previous: string | undefined;
  if (await exists(dir)) {
    const info = await stat(dir);
    if (!info.isDirectory())
      throw new AdapterError('INVALID_INPUT', `--out ${dir} is a file; give a directory path`, { path: dir });
    if (opts.resume) {
      resumed = true;
    } else if (opts.force) {
      if (!(await isAdapterkitOutput(dir))) {
        throw new AdapterError(
          'INVALID_INPUT',
          `--force: ${dir} is not an adapterkit output directory (none of ${OUTPUT_MARKERS.join(', ')}); remove it yourself if it should go`,
          { path: dir },
        );
      }
      previous = `${dir}.replaced-${process.pid}`;
      await rename(dir, previous);
      created = (await mkdir(dir, { recursive: true })) ?? dir;
    } else {
      const alternatives = opts.resumable
        ? ', pass --resume to continue its run or --force to replace it'
        : ', or pass --force to replace it';
      throw new AdapterError(
        'INVALID_INPUT',
        `output directory ${dir} already exists; choose another --out${alternatives}`,
        { path: dir },
      );
    }
  } else {
    if (opts.resume)
      throw new AdapterError(
        'INVALID_INPUT',
        `--resume: ${dir} does not exist; there is no run to continue`,
        { path: dir },
      );
    created = (await mkdir(dir, { recursive: true })) ?? dir;
  }
  try {
    const result = await fn({ path: dir, resumed });
    if (previous) await rm(previous, { recursive: true, force: true });
    return result;
  } catch (e) {
    // A stopped run keeps what it wrote (to resume or inspect), unless it had not written anything yet.
    const keep = e instanceof Interrupted && (await readdir(dir).catch(() => [])).length > 0;
    if (created && !keep) await rm(resolve(created), { recursive: true, force: true }).catch(() => {});
    // A failed --force run leaves the earlier directory as it was; a kept one replaces it.
    if (previous)
      await (keep ? rm(previous, { recursive: true, force: true }) : rename(previous, dir)).catch(() => {});
    throw e;
  }
}

/** A filesystem-safe timestamp for run directory names: `2026-11-25T16-30-00`. */
export function timestamp(d = new Date()): string {
  return d.toISOString().slice(0, 19).replace(/:/g, '-');
}
