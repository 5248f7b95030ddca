/**
 * File access by path, which only Node has. The core library (`adapterkit`) never imports a Node
 * module, so it can be bundled for browsers; the Node entry (`adapterkit/node`) installs an
 * implementation on import. Functions that accept a path as well as in-memory storage
 * (`savePretrained(peft, dir)`, `Trainer`'s `checkpointDir`, …) reach the file system through it.
 */
import { AdapterError } from '../errors.js';

/** What is at a path. */
export type PathKind = 'file' | 'directory' | 'other';

/** The file operations the library needs (paths in the platform's syntax). */
export interface PathFiles {
  /** Joins path segments with the platform's separator. */
  join(...parts: string[]): string;
  /** What is at `path`, or null when nothing is. */
  kind(path: string): Promise<PathKind | null>;
  /** The file's bytes, or null when there is no such file. */
  readFile(path: string): Promise<Uint8Array | null>;
  /** Writes a file atomically (temporary file, flush, rename), creating missing parent directories. */
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  /** The entry names of a directory, or null when it does not exist. */
  readdir(dir: string): Promise<string[] | null>;
  /** Removes a file; a missing file is not an error. */
  remove(path: string): Promise<void>;
  /**
   * Replaces directory `dir` with one holding `files` (relative `/` paths → contents) plus whatever
   * else it held, atomically as a whole: a reader sees the old complete set or the new one.
   * `where` names the caller in errors.
   */
  writeDirectory(dir: string, files: ReadonlyMap<string, Uint8Array | string>, where: string): Promise<void>;
  /**
   * Runs `read` on a complete version of directory `dir` (`read` gets the directory to read from:
   * `dir`, or the complete copy a writer that died mid-swap left), reading again if a writer replaced
   * `dir` meanwhile.
   */
  readDirectory<T>(dir: string, read: (root: string) => Promise<T>): Promise<T>;
}

let installed: PathFiles | null = null;

/**
 * Installs (or, with null, removes) the file access used for paths. `adapterkit/node` installs Node's
 * file system when it is imported; call this only to supply another one.
 */
export function setPathFiles(files: PathFiles | null): void {
  installed = files;
}

/**
 * The installed file access; `where` names the caller in the error thrown when there is none
 * (`UNSUPPORTED_FEATURE`: in a browser, or in Node when only `adapterkit` was imported).
 */
export function requirePathFiles(where: string): PathFiles {
  if (installed) return installed;
  throw new AdapterError(
    'UNSUPPORTED_FEATURE',
    `${where}: file paths need Node's file system, which the core entry 'adapterkit' does not load; ` +
      `in Node import from 'adapterkit/node' (it includes everything in 'adapterkit'); ` +
      `in a browser pass in-memory storage (bytes, or a FileSink / FileSource object) instead of a path`,
    { where },
  );
}
