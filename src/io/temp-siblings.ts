/**
 * Temporary siblings of saved files and directories, and the sweep that removes those of dead writers.
 *
 * Every atomic save first writes beside its target under `.<target>.<pid>.<ms>.<rand>.<kind>`: the
 * writer's process id, the time in ms and a random tag, so the next save into the same directory can
 * tell a dead writer's leftovers (its process is gone) from a save still in progress, and remove them.
 * Kinds: `tmp` (a file being written), `staging` (a directory being written), `ready` (a complete
 * directory about to replace its target), `old` (the replaced directory, removed after the swap).
 * Node modules are imported lazily so browser bundles never load them.
 */

/** What a temporary sibling holds (see the module comment). */
export type TempKind = 'tmp' | 'staging' | 'ready' | 'old';

/** A temporary sibling found in a directory. */
export interface TempSibling {
  /** Entry name, e.g. `.model.safetensors.4242.1764752400000.k2j9x.tmp`. */
  name: string;
  /** Name of the target it stands in for, e.g. `model.safetensors`. */
  target: string;
  pid: number;
  /** Creation time (ms since the epoch). */
  ms: number;
  kind: TempKind;
}

const TEMP_PATTERN = /^\.(.+)\.(\d{1,10})\.(\d{1,16})\.([0-9a-z]{1,16})\.(tmp|staging|ready|old)$/;

/** Leftovers of a live process older than this are treated as a dead writer's whose pid was reused. */
const MAX_WRITER_AGE_MS = 24 * 3600 * 1000;

/** Temporary siblings this process is writing right now (absolute paths). */
const inFlight = new Set<string>();

/** The temporary name of `target` (a base name) of the given kind for the save with `token`. */
export function tempSiblingName(target: string, kind: TempKind, token = newToken()): string {
  return `.${target}.${token}.${kind}`;
}

/** `<pid>.<ms>.<rand>`: one token per save, shared by the names of one directory swap. */
export function newToken(): string {
  return `${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2, 10) || '0'}`;
}

/** Parses a temporary sibling's name, or returns null for any other name. */
export function parseTempSibling(name: string): TempSibling | null {
  const m = TEMP_PATTERN.exec(name);
  if (!m) return null;
  return { name, target: m[1]!, pid: Number(m[2]), ms: Number(m[3]), kind: m[5] as TempKind };
}

/** Runs `fn` with `path` registered as this process's work in progress (so sweeps leave it alone). */
export async function withInFlight<T>(paths: readonly string[], fn: () => Promise<T>): Promise<T> {
  for (const p of paths) inFlight.add(p);
  try {
    return await fn();
  } finally {
    for (const p of paths) inFlight.delete(p);
  }
}

/**
 * Whether the writer of `t` (in directory `dir`) may still be running. This process's own pid counts only
 * for names it is writing now (a crashed predecessor may have had the same pid, as in containers).
 */
export async function writerMayBeAlive(dir: string, t: TempSibling): Promise<boolean> {
  const { join } = await import('node:path');
  if (t.pid === process.pid) return inFlight.has(join(dir, t.name));
  if (Date.now() - t.ms > MAX_WRITER_AGE_MS) return false;
  try {
    process.kill(t.pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The temporary siblings in `dir` (none when it cannot be listed). */
export async function listTempSiblings(dir: string): Promise<TempSibling[]> {
  const fs = await import('node:fs/promises');
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  return names.map(parseTempSibling).filter((t): t is TempSibling => t !== null);
}

/**
 * Removes the leftovers of dead writers in `dir`: partial files and directories always; complete
 * directories (`ready`, `old`) only when their target exists, since otherwise they hold the only complete
 * copy (a writer died between its two renames) and the next save or load of that target recovers it.
 * Best effort: an entry that cannot be removed stays for the next sweep.
 */
export async function sweepDeadWriters(dir: string): Promise<void> {
  const fs = await import('node:fs/promises');
  const { join } = await import('node:path');
  for (const t of await listTempSiblings(dir)) {
    if (await writerMayBeAlive(dir, t)) continue;
    if (t.kind === 'ready' || t.kind === 'old') {
      const target = await fs.lstat(join(dir, t.target)).catch(() => null);
      if (!target) continue;
    }
    await fs.rm(join(dir, t.name), { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Flushes a directory's entries (renames, creations) to disk where the platform allows it. */
export async function syncDir(dir: string): Promise<void> {
  const fs = await import('node:fs/promises');
  try {
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Directories cannot be opened or synced on some platforms (Windows); renames there are still atomic.
  }
}
