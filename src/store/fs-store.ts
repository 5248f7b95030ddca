/**
 * {@link AdapterStore} on a directory: `<root>/adapters/<name>/manifest.json` plus the adapter's
 * files. A put writes everything into a sibling temporary directory whose name starts with '.',
 * fsyncs it, and renames it into place; rename of a directory onto an existing non-empty one fails,
 * so of two concurrent writers exactly one wins and the other compares content hashes. Node only.
 */
import { open, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { AdapterError } from '../errors.js';
import type { AdapterInput, AdapterStore, PutOptions, PutResult, StoredAdapter } from './adapter-store.js';
import {
  checkAdapterName,
  checkRelativePath,
  contentHashOf,
  MANIFEST_FILE,
  parseManifest,
  sha256,
  type AdapterManifest,
} from './manifest.js';

/** Prefix of temporary entries (being written, or being removed). */
const TEMP_PREFIX = '.tmp-';
const TRASH_PREFIX = '.trash-';

/** Options of {@link FsAdapterStore.sweepStale}. */
export interface SweepOptions {
  /** Temporary entries older than this are removed even when their writer cannot be checked (another host). Default: one hour. */
  olderThanMs?: number;
}

/** An adapter store on a local or shared directory. */
export class FsAdapterStore implements AdapterStore {
  /** The directory holding one sub-directory per adapter. */
  readonly adaptersDir: string;

  constructor(readonly root: string) {
    this.adaptersDir = join(root, 'adapters');
  }

  /** The directory of adapter `name` (for readers that load a PEFT directory by path). */
  adapterDir(name: string): string {
    checkAdapterName(name);
    return join(this.adaptersDir, name);
  }

  async put(input: AdapterInput, opts: PutOptions = {}): Promise<PutResult> {
    checkAdapterName(input.name);
    const paths = Object.keys(input.files);
    if (paths.length === 0)
      throw new AdapterError('INVALID_INPUT', `adapter '${input.name}' has no files to store`);
    const digests: Record<string, string> = {};
    for (const path of paths.sort()) {
      checkRelativePath(path);
      digests[path] = sha256(input.files[path]!);
    }
    const manifest: AdapterManifest = {
      name: input.name,
      jobId: input.jobId,
      kind: input.kind,
      format: input.format,
      base: input.base,
      config: input.config,
      metrics: input.metrics,
      files: digests,
      contentHash: contentHashOf(digests),
      createdAt: new Date().toISOString(),
    };
    const existing = await this.tryManifest(input.name);
    if (existing && sameAdapter(existing, manifest)) return { manifest: existing, outcome: 'unchanged' };
    if (existing && !opts.replace) throw conflict(input.name, existing, manifest);

    await mkdir(this.adaptersDir, { recursive: true });
    const tmp = join(
      this.adaptersDir,
      `${TEMP_PREFIX}${input.name}.${hostname()}.${process.pid}.${randomTag()}`,
    );
    try {
      for (const path of paths) await writeSynced(join(tmp, path), input.files[path]!);
      await writeSynced(join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
      await syncDirTree(tmp, paths);
      const final = join(this.adaptersDir, input.name);
      if (await renameIfAbsent(tmp, final)) {
        await syncDir(this.adaptersDir);
        return { manifest, outcome: existing ? 'replaced' : 'written' };
      }
      // Someone else stored this name first (or it existed and `replace` is set).
      const now = await this.tryManifest(input.name);
      if (now && sameAdapter(now, manifest)) return { manifest: now, outcome: 'unchanged' };
      if (!opts.replace) throw conflict(input.name, now, manifest);
      const trash = join(
        this.adaptersDir,
        `${TRASH_PREFIX}${input.name}.${hostname()}.${process.pid}.${randomTag()}`,
      );
      await rename(final, trash);
      if (!(await renameIfAbsent(tmp, final)))
        throw new AdapterError(
          'DUPLICATE_ADAPTER',
          `adapter '${input.name}' was written by another process while being replaced; retry`,
        );
      await syncDir(this.adaptersDir);
      await rm(trash, { recursive: true, force: true });
      return { manifest, outcome: 'replaced' };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async get(name: string): Promise<StoredAdapter> {
    const manifest = await this.manifest(name);
    const dir = this.adapterDir(name);
    const files: Record<string, Uint8Array> = {};
    for (const [path, digest] of Object.entries(manifest.files)) {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(join(dir, path)));
      } catch (e) {
        throw new AdapterError(
          'CHECKPOINT_FORMAT',
          `stored adapter '${name}' is missing ${path} (listed in its manifest): ${(e as Error).message}`,
          { name, path },
        );
      }
      const actual = sha256(bytes);
      if (actual !== digest) {
        throw new AdapterError(
          'CHECKPOINT_MISMATCH',
          `stored adapter '${name}': ${path} has sha256 ${actual}, its manifest says ${digest}; the file is corrupt or was changed`,
          { name, path },
        );
      }
      files[path] = bytes;
    }
    const hash = contentHashOf(manifest.files);
    if (hash !== manifest.contentHash) {
      throw new AdapterError(
        'CHECKPOINT_MISMATCH',
        `stored adapter '${name}': content hash ${hash} does not match its manifest's ${manifest.contentHash}`,
        { name },
      );
    }
    return { manifest, files };
  }

  async manifest(name: string): Promise<AdapterManifest> {
    const m = await this.tryManifest(name);
    if (!m) {
      const names = (await this.names()).slice(0, 20);
      throw new AdapterError(
        'UNKNOWN_ADAPTER',
        `no adapter '${name}' in the store at ${this.root}; stored: ${names.length ? names.join(', ') : '(none)'}`,
        { name },
      );
    }
    return m;
  }

  async list(): Promise<AdapterManifest[]> {
    const out: AdapterManifest[] = [];
    for (const name of await this.names()) {
      const m = await this.tryManifest(name);
      if (m) out.push(m);
    }
    return out;
  }

  async has(name: string): Promise<boolean> {
    return (await this.tryManifest(name)) !== null;
  }

  async delete(name: string): Promise<boolean> {
    const dir = this.adapterDir(name);
    const trash = join(
      this.adaptersDir,
      `${TRASH_PREFIX}${name}.${hostname()}.${process.pid}.${randomTag()}`,
    );
    try {
      await rename(dir, trash); // disappears for readers at once
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    await rm(trash, { recursive: true, force: true });
    return true;
  }

  /**
   * Removes temporary entries left by writers that died: those written on this host by a process
   * that no longer runs, and any older than `olderThanMs`. Resolves to the names removed.
   */
  async sweepStale(opts: SweepOptions = {}): Promise<string[]> {
    const maxAge = opts.olderThanMs ?? 3_600_000;
    const removed: string[] = [];
    let entries: string[];
    try {
      entries = await readdir(this.adaptersDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return removed;
      throw e;
    }
    for (const entry of entries) {
      if (!entry.startsWith(TEMP_PREFIX) && !entry.startsWith(TRASH_PREFIX)) continue;
      const path = join(this.adaptersDir, entry);
      const age = await stat(path).then(
        (s) => Date.now() - s.mtimeMs,
        () => null,
      );
      if (age === null) continue;
      if (age > maxAge || writerIsDeadHere(entry)) {
        await rm(path, { recursive: true, force: true });
        removed.push(entry);
      }
    }
    return removed;
  }

  /** Adapter names present (entries starting with '.' are temporary and ignored). */
  private async names(): Promise<string[]> {
    try {
      return (await readdir(this.adaptersDir)).filter((n) => !n.startsWith('.')).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  private async tryManifest(name: string): Promise<AdapterManifest | null> {
    const file = join(this.adapterDir(name), MANIFEST_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR')
        return null;
      throw e;
    }
    const m = parseManifest(text, file);
    if (m.name !== name)
      throw new AdapterError(
        'CHECKPOINT_FORMAT',
        `${file} names adapter '${m.name}' but lives under '${name}'`,
        { name },
      );
    return m;
  }
}

/** The same content, or the output of the same job (a redelivered job is one adapter even if its bytes differ). */
function sameAdapter(stored: AdapterManifest, wanted: AdapterManifest): boolean {
  return (
    stored.contentHash === wanted.contentHash || (stored.jobId !== null && stored.jobId === wanted.jobId)
  );
}

function conflict(name: string, existing: AdapterManifest | null, wanted: AdapterManifest): AdapterError {
  return new AdapterError(
    'DUPLICATE_ADAPTER',
    `the store already holds a different adapter named '${name}' (job ${existing?.jobId ?? 'none'}, content ${existing?.contentHash.slice(0, 12) ?? '?'}; new content ${wanted.contentHash.slice(0, 12)}); choose another name or pass replace`,
    { name },
  );
}

function randomTag(): string {
  return Math.random().toString(36).slice(2, 10);
}

/** `.tmp-<name>.<host>.<pid>.<tag>`: true when written on this host by a process that is gone. */
function writerIsDeadHere(entry: string): boolean {
  const parts = entry.split('.');
  if (parts.length < 4) return false;
  const pid = Number(parts[parts.length - 2]);
  const host = parts.slice(0, -2).join('.');
  if (!Number.isInteger(pid) || !host.endsWith(`.${hostname()}`)) return false;
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Renames `from` to `to` unless `to` exists; false when it does. */
async function renameIfAbsent(from: string, to: string): Promise<boolean> {
  try {
    await rename(from, to);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTDIR') return false;
    throw e;
  }
}

async function writeSynced(path: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs the temporary directory and each sub-directory holding files, so the rename publishes durable entries. */
async function syncDirTree(root: string, paths: string[]): Promise<void> {
  const dirs = new Set([root, ...paths.map((p) => dirname(join(root, p)))]);
  for (const d of dirs) await syncDir(d);
}

async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Directory fsync is unsupported on some platforms; the rename is still atomic.
  }
}
