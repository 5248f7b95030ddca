/**
 * Node's file system as the library's {@link PathFiles}, installed when this module is imported (the
 * Node entry `adapterkit/node` and the CLI import it). Node only.
 */
import * as fs from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readDirConsistent, writeDirAtomic } from './atomic-dir.js';
import { readFileBytes, writeFileAtomic } from './atomic-file.js';
import { setPathFiles, type PathFiles } from './path-files.js';

const MISSING = ['ENOENT', 'ENOTDIR', 'EISDIR'];

function isMissing(e: unknown): boolean {
  return MISSING.includes((e as NodeJS.ErrnoException).code ?? '');
}

/** Node's file system: `node:fs/promises`, with atomic writes ({@link writeFileAtomic}). */
export const nodePathFiles: PathFiles = {
  join: (...parts) => join(...parts),
  async kind(path) {
    const info = await fs.stat(path).catch((e: unknown) => {
      if (isMissing(e)) return null;
      throw e;
    });
    if (!info) return null;
    return info.isFile() ? 'file' : info.isDirectory() ? 'directory' : 'other';
  },
  async readFile(path) {
    try {
      if (!(await fs.stat(path)).isFile()) return null;
      return await readFileBytes(path);
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  },
  async writeFile(path, data) {
    await fs.mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, data);
  },
  async readdir(dir) {
    try {
      return await fs.readdir(dir);
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  },
  async remove(path) {
    await fs.rm(path, { force: true });
  },
  writeDirectory: (dir, files, where) => writeDirAtomic(dir, files, where),
  readDirectory: (dir, read) => readDirConsistent(dir, read),
};

setPathFiles(nodePathFiles);
