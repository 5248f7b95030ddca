/**
 * Crash-safe file writes for Node: write a temporary file next to the target, flush it to disk, then
 * rename it over the target. A crash at any point leaves either the old file or the new one, never a
 * half-written file. The temporary file (`.<name>.<pid>.<ms>.<rand>.tmp`) of a writer that died is
 * removed by the next save into the same directory (see `temp-siblings.ts`). Node only: exported from
 * `adapterkit/node`, never reached from the core entry.
 */
import { newToken, sweepDeadWriters, syncDir, tempSiblingName, withInFlight } from './temp-siblings.js';

/**
 * Writes `bytes` to `path` atomically (temporary file, fsync, rename, directory fsync), after removing
 * the temporary files that dead writers left in the same directory.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const fs = await import('node:fs/promises');
  const { dirname, basename, join } = await import('node:path');
  const dir = dirname(path);
  const tmp = join(dir, tempSiblingName(basename(path), 'tmp', newToken()));
  await withInFlight([tmp], async () => {
    await sweepDeadWriters(dir);
    try {
      await writeAndSync(tmp, bytes);
      await fs.rename(tmp, path);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
  });
  // Make the rename itself durable where the platform allows opening directories.
  await syncDir(dir);
}

/** Creates (or truncates) `path`, writes `bytes` and flushes them to disk. */
export async function writeAndSync(path: string, bytes: Uint8Array | string): Promise<void> {
  const fs = await import('node:fs/promises');
  const handle = await fs.open(path, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The largest file read into memory: what Node's `fs.readFile` can return (2 GiB − 1 byte). */
export const MAX_FILE_BYTES = 2 ** 31 - 1;

/**
 * Reads a whole file, with a clear error naming the path when it is missing or larger than
 * {@link MAX_FILE_BYTES}.
 */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  const fs = await import('node:fs/promises');
  try {
    const handle = await fs.open(path, 'r');
    try {
      const { size } = await handle.stat();
      if (size > MAX_FILE_BYTES) {
        const { AdapterError } = await import('../errors.js');
        throw new AdapterError(
          'CHECKPOINT_FORMAT',
          `${path}: the file is ${size} bytes, above the limit of ${MAX_FILE_BYTES} bytes a file can be read into memory`,
          { path, size },
        );
      }
      return new Uint8Array(await handle.readFile());
    } finally {
      await handle.close();
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') {
      const { AdapterError } = await import('../errors.js');
      throw new AdapterError('CHECKPOINT_FORMAT', `no such file: ${path}`, { path });
    }
    throw e;
  }
}
