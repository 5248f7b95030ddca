/**
 * Crash-safe file writes for Node: write a temporary file next to the target, flush it to disk, then
 * rename it over the target. A crash at any point leaves either the old file or the new one, never a
 * half-written file. Node only: exported from `adapterkit/node`, never from the core entry.
 */
import * as fs from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AdapterError } from '../errors.js';

/** Writes `bytes` to `path` atomically (temporary file, fsync, rename, directory fsync). */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`);
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  // Make the rename itself durable where the platform allows opening directories.
  try {
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Directory fsync is unsupported on some platforms (e.g. Windows); the rename is still atomic.
  }
}

/** Reads a whole file, with a clear error naming the path when it is missing. */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await fs.readFile(path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') {
      throw new AdapterError('CHECKPOINT_FORMAT', `no such file: ${path}`, { path });
    }
    throw e;
  }
}
