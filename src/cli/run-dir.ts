import { mkdir, stat } from 'node:fs/promises';
import { AdapterError } from '../errors.js';

/** Creates `dir` (and its parents); an existing path is an error, so a run never overwrites another. */
export async function ensureNewDir(dir: string): Promise<void> {
  if (await stat(dir).catch(() => null)) {
    throw new AdapterError('INVALID_INPUT', `output directory ${dir} already exists; choose another --out or remove it`, { path: dir });
  }
  await mkdir(dir, { recursive: true });
}

/** A filesystem-safe timestamp for run directory names: `2026-11-25T16-30-00`. */
export function timestamp(d = new Date()): string {
  return d.toISOString().slice(0, 19).replace(/:/g, '-');
}
