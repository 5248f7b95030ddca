/**
 * Crash-safe directory writes for Node: a set of files (a PEFT adapter directory, a whole-model
 * checkpoint) is replaced as a whole, so a reader (this library's, or any program reading the plain
 * files, such as PEFT's `from_pretrained`) sees the old complete set or the new one, never a mix.
 *
 * Scheme (plain renames, which are atomic on Linux, macOS and Windows file systems alike):
 * 1. Write every file into a sibling `.<dir>.<token>.staging` (each flushed with fsync) and link or copy in
 *    whatever else the old directory held (files this save does not write, such as other adapters'
 *    sub-folders, stay as PEFT's `save_pretrained` leaves them); flush the directories.
 * 2. Rename it to `.<dir>.<token>.ready`: from now on it is known to be complete.
 * 3. Rename the current `<dir>` (if any) to `.<dir>.<token>.old`, then `.ready` to `<dir>`; flush the parent.
 * 4. Remove `.old`.
 * A writer that dies in 1–2 leaves `<dir>` untouched; one that dies between the two renames of 3 leaves no
 * `<dir>` but a complete `.ready` (and `.old`): loaders read the newest complete sibling, and the next save
 * renames it back into place first. Leftovers of dead writers (by pid, see `temp-siblings.ts`) are removed
 * by the next save into the same parent directory. Readers check that `<dir>` was not swapped while they
 * read it and read again if it was.
 */
import { AdapterError } from '../errors.js';
import { writeAndSync } from './atomic-file.js';
import {
  listTempSiblings,
  newToken,
  sweepDeadWriters,
  syncDir,
  tempSiblingName,
  withInFlight,
  writerMayBeAlive,
  type TempSibling,
} from './temp-siblings.js';

/** How often a writer retries a swap that raced with another process. */
const ATTEMPTS = 5;
/** How often a reader reads again a directory that was swapped while it read. */
const READ_ATTEMPTS = 20;

/**
 * Replaces directory `dir` with one holding `files` (relative `/` paths → contents) plus every other
 * entry the old `dir` held, atomically as a whole (see the module comment).
 *
 * @throws AdapterError `INVALID_INPUT` when `dir` exists and is not a directory, or is the working
 * directory (or holds it), or a file-system root.
 */
export async function writeDirAtomic(
  dir: string,
  files: ReadonlyMap<string, Uint8Array | string>,
  where = 'save',
): Promise<void> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const target = await resolveTarget(dir);
  const parent = path.dirname(target);
  const base = path.basename(target);
  const cwd = path.resolve(process.cwd());
  if (parent === target || cwd === target || cwd.startsWith(target + path.sep)) {
    throw new AdapterError(
      'INVALID_INPUT',
      `${where}: ${dir} is ${parent === target ? 'a file-system root' : 'the working directory or holds it'}, which cannot be replaced as a whole; save into a sub-directory (e.g. ${path.join(dir, 'out')})`,
      { path: dir },
    );
  }
  await fs.mkdir(parent, { recursive: true });
  await recoverDir(parent, base);
  const info = await fs.stat(target).catch(() => null);
  if (info && !info.isDirectory()) {
    throw new AdapterError('INVALID_INPUT', `${where}: ${dir} is a file; give a directory path`, {
      path: dir,
    });
  }
  const token = newToken();
  const staging = path.join(parent, tempSiblingName(base, 'staging', token));
  const ready = path.join(parent, tempSiblingName(base, 'ready', token));
  const old = path.join(parent, tempSiblingName(base, 'old', token));
  await withInFlight([staging, ready, old], async () => {
    await sweepDeadWriters(parent);
    try {
      const dirs = new Set<string>([staging]);
      for (const [rel, data] of files) {
        const full = path.join(staging, ...rel.split('/'));
        for (let d = path.dirname(full); d !== staging && !dirs.has(d); d = path.dirname(d)) dirs.add(d);
        await fs.mkdir(path.dirname(full), { recursive: true });
        await writeAndSync(full, data);
      }
      if (info) await carryOver(target, staging, dirs);
      // Deepest first, so each directory's entries are on disk before its parent's.
      for (const d of [...dirs].sort((a, b) => b.length - a.length)) await syncDir(d);
      await fs.rename(staging, ready);
      await syncDir(parent);
      await swapIn(ready, target, old);
      await syncDir(parent);
    } catch (e) {
      // Leave things as they were: the old directory back in place, nothing of this save behind.
      if (!(await exists(target)) && (await exists(old))) await fs.rename(old, target).catch(() => undefined);
      for (const p of [staging, ready])
        await fs.rm(p, { recursive: true, force: true }).catch(() => undefined);
      throw e;
    }
    await fs.rm(old, { recursive: true, force: true }).catch(() => undefined);
  });
}

/**
 * Runs `read(root)` on the directory `dir` as one consistent set: `root` is `dir`, or, when a writer died
 * between the renames of its swap, the newest complete copy beside it. Reads again when `dir` was swapped
 * while `read` ran.
 */
export async function readDirConsistent<T>(dir: string, read: (root: string) => Promise<T>): Promise<T> {
  const target = await resolveTarget(dir);
  for (let attempt = 1; ; attempt++) {
    // Back off after a lost race, so a reader is not starved by a writer that saves back to back.
    if (attempt > 1) await new Promise((r) => setTimeout(r, Math.min(2 ** attempt, 50)));
    const last = attempt >= READ_ATTEMPTS;
    const root = (await exists(target)) ? target : ((await completeCopy(target)) ?? target);
    const before = await identity(root);
    // What was found is gone already (the copy was renamed into place or away, or a save moved the
    // directory aside between the two looks): look again.
    if (before === 'missing' && !last) continue;
    let result: T;
    try {
      result = await read(root);
    } catch (e) {
      // A copy beside `dir` is short-lived (renamed into place, or being removed): look again.
      if (!last && (root !== target || (await identity(root)) !== before)) continue;
      throw e;
    }
    if (last || (await identity(root)) === before) return result;
  }
}

async function exists(p: string): Promise<boolean> {
  const fs = await import('node:fs/promises');
  return (await fs.lstat(p).catch(() => null)) !== null;
}

/** `dir` itself, or what it links to when it is a symbolic link (the link stays; its target is replaced). */
async function resolveTarget(dir: string): Promise<string> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const abs = path.resolve(dir);
  const link = await fs.lstat(abs).catch(() => null);
  return link?.isSymbolicLink() ? fs.realpath(abs).catch(() => abs) : abs;
}

/** A directory's identity (device, inode, birth time): a swap replaces it with a different directory. */
async function identity(dir: string): Promise<string> {
  const fs = await import('node:fs/promises');
  const s = await fs.stat(dir, { bigint: true }).catch(() => null);
  return s ? `${s.dev}:${s.ino}:${s.birthtimeNs}` : 'missing';
}

/** The newest complete copy of a missing `target`: a `ready` sibling, else an `old` one. */
async function completeCopy(target: string): Promise<string | null> {
  const path = await import('node:path');
  const parent = path.dirname(target);
  const base = path.basename(target);
  const mine = (await listTempSiblings(parent)).filter((t) => t.target === base);
  const newest = (kind: TempSibling['kind']) =>
    mine.filter((t) => t.kind === kind).sort((a, b) => b.ms - a.ms)[0];
  const best = newest('ready') ?? newest('old');
  return best ? path.join(parent, best.name) : null;
}

/** Puts the newest complete copy back in place when a dead writer left `parent/base` missing. */
async function recoverDir(parent: string, base: string): Promise<void> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const target = path.join(parent, base);
  if (await exists(target)) return;
  for (const t of await listTempSiblings(parent)) {
    if (t.target === base && (await writerMayBeAlive(parent, t))) return; // its writer finishes the swap
  }
  const copy = await completeCopy(target);
  if (!copy) return;
  await fs.rename(copy, target).catch(() => undefined);
  await syncDir(parent);
}

const RACE_CODES = ['ENOTEMPTY', 'EEXIST', 'EPERM', 'EACCES', 'EBUSY'];

/** Moves `target` (if any) aside to `old`, then renames `ready` to `target`; retried when a rename races. */
async function swapIn(ready: string, target: string, old: string): Promise<void> {
  const fs = await import('node:fs/promises');
  for (let attempt = 1; ; attempt++) {
    const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? '';
    try {
      await fs.rename(target, old);
    } catch (e) {
      if (code(e) !== 'ENOENT') {
        // Windows refuses to rename a directory while a file in it is open: wait and retry.
        if (attempt < ATTEMPTS && RACE_CODES.includes(code(e))) {
          await pause(attempt);
          continue;
        }
        throw e;
      }
    }
    try {
      await fs.rename(ready, target);
      return;
    } catch (e) {
      if (attempt >= ATTEMPTS || !RACE_CODES.includes(code(e))) throw e;
      // Another writer put its directory in place in between; `ready` is complete, so `old` may go.
      await fs.rm(old, { recursive: true, force: true }).catch(() => undefined);
      await pause(attempt);
    }
  }
}

function pause(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, 50 * attempt));
}

/**
 * Links (or, where hard links are unavailable, copies) into `to` every entry of `from` that `to` does not
 * hold yet, recursively, recording the directories it creates in `dirs`.
 */
async function carryOver(from: string, to: string, dirs: Set<string>): Promise<void> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  // A concurrent save may move `from` away meanwhile: what is gone by then is not carried.
  const gone = (e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  };
  const entries = await fs.readdir(from, { withFileTypes: true }).catch((e) => (gone(e), []));
  for (const entry of entries) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    const present = await fs.lstat(dst).catch(() => null);
    if (entry.isDirectory()) {
      if (present && !present.isDirectory()) continue;
      if (!present) {
        await fs.mkdir(dst);
        dirs.add(dst);
      }
      await carryOver(src, dst, dirs);
    } else if (present) {
      continue; // written by this save
    } else if (entry.isSymbolicLink()) {
      await fs
        .readlink(src)
        .then((link) => fs.symlink(link, dst))
        .catch(gone);
    } else {
      await fs.link(src, dst).catch(() => fs.copyFile(src, dst).catch(gone));
    }
  }
}
