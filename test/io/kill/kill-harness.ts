/**
 * Kill-during-save harness. For one save path: start a child that saves two states alternately to one
 * place in a loop, SIGKILL it at a random moment after it started saving (after 0–2 completed saves, a
 * random part of a save's duration later), and check that what remains loads and is byte for byte one of
 * the two states (every file of a directory from the same state; when the kill fell between the two
 * renames of a directory swap, the complete copy the library's loaders read); then save once more and check
 * that no temporary file or directory is left. Repeat with a fresh child per kill.
 *
 * The child is bundled once with esbuild, with TensorFlow.js core + CPU backend in place of the full
 * package (start-up is most of each kill's cost; the save code is the library's own).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { readDirConsistent } from '../../../src/io/atomic-dir.js';
import { parseTempSibling } from '../../../src/io/temp-siblings.js';
import { createRng } from '../../../src/rng.js';
import { savePath, type SaveKind } from './save-paths.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..', '..');

/** What a run of kills saw. */
export interface KillStats {
  kills: number;
  /** Kills after which the target held state 0 / state 1 / nothing yet (no save had completed). */
  state0: number;
  state1: number;
  absent: number;
  /** Kills between the two renames of a directory swap (the target missing, its complete copy beside it). */
  betweenRenames: number;
  /** Kills that left a dead writer's temporary file or directory, which the next save removed. */
  leftovers: number;
  /** Problems found (empty when every check passed). */
  problems: string[];
}

/** Bundles the child (inside the repository, so its TensorFlow.js imports resolve). */
async function bundleChild(kind: SaveKind): Promise<string> {
  const out = join(
    ROOT,
    'node_modules',
    '.cache',
    'adapterkit-kill-tests',
    `saver-${kind}-${process.pid}.mjs`,
  );
  mkdirSync(dirname(out), { recursive: true });
  await build({
    entryPoints: [join(HERE, 'saver.child.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: out,
    logLevel: 'warning',
    alias: {
      '@tensorflow/tfjs': join(HERE, 'tfjs-light.ts'),
      '@tensorflow/tfjs-backend-wasm': join(HERE, 'empty.ts'),
    },
    external: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu'],
  });
  return out;
}

/** Every file under `p` (relative `/` paths → bytes); a single file maps `''` to its bytes. */
function snapshot(p: string): Map<string, Buffer> | null {
  const info = statSync(p, { throwIfNoEntry: false });
  if (!info) return null;
  if (!info.isDirectory()) return new Map([['', readFileSync(p)]]);
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, e.name);
      if (e.isDirectory()) walk(full);
      else out.set(relative(p, full).split('\\').join('/'), readFileSync(full));
    }
  };
  walk(p);
  return out;
}

function sameSet(a: Map<string, Buffer> | null, b: Map<string, Buffer> | null): boolean {
  if (!a || !b || a.size !== b.size) return false;
  for (const [k, v] of a) if (!b.get(k)?.equals(v)) return false;
  return true;
}

/** The temporary siblings in a directory (by the library's own naming pattern). */
export function tempEntries(dir: string): string[] {
  return readdirSync(dir).filter((n) => parseTempSibling(n) !== null);
}

interface Child {
  /** Resolves with the next line of output, or null when the child exited. */
  nextLine(): Promise<string | null>;
  kill(): Promise<void>;
}

function startChild(bundle: string, args: string[]): Child {
  const proc = spawn(process.execPath, [bundle, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let buffer = '';
  let stderr = '';
  const lines: string[] = [];
  const waiting: Array<(l: string | null) => void> = [];
  let exited = false;
  const exit = new Promise<void>((res) =>
    proc.on('exit', () => {
      exited = true;
      for (const w of waiting.splice(0)) w(null);
      res();
    }),
  );
  proc.stderr.on('data', (d) => (stderr = (stderr + String(d)).slice(-2000)));
  proc.stdout.on('data', (d) => {
    buffer += String(d);
    let i: number;
    while ((i = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      const w = waiting.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  return {
    nextLine: () => {
      if (lines.length) return Promise.resolve(lines.shift()!);
      if (exited) return Promise.reject(new Error(`child exited: ${stderr}`));
      return new Promise((res) => waiting.push(res));
    },
    kill: async () => {
      proc.kill('SIGKILL');
      await exit;
    },
  };
}

/**
 * Runs `kills` kill-during-save rounds of one save path (see the module comment), in `lanes` concurrent
 * loops, each with its own place (children start up on every core while the others are checked).
 */
export async function runKills(kind: SaveKind, kills: number, seed: number, lanes = 2): Promise<KillStats> {
  const bundle = await bundleChild(kind);
  const work = mkdtempSync(join(tmpdir(), `adapterkit-kill-${kind}-`));
  const path = savePath(kind);
  const refs = [join(work, 'state-0'), join(work, 'state-1')];
  await path.save(0, refs[0]!);
  await path.save(1, refs[1]!);
  const states = refs.map(snapshot);
  const stats: KillStats = {
    kills: 0,
    state0: 0,
    state1: 0,
    absent: 0,
    betweenRenames: 0,
    leftovers: 0,
    problems: [],
  };
  try {
    await Promise.all(
      Array.from({ length: lanes }, (_, lane) => {
        const n = Math.floor(kills / lanes) + (lane < kills % lanes ? 1 : 0);
        return killLoop(kind, bundle, join(work, `place-${lane}`), n, seed + lane, path, states, stats);
      }),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(bundle, { force: true });
  }
  return stats;
}

async function killLoop(
  kind: SaveKind,
  bundle: string,
  place: string,
  kills: number,
  seed: number,
  path: ReturnType<typeof savePath>,
  states: Array<Map<string, Buffer> | null>,
  stats: KillStats,
): Promise<void> {
  mkdirSync(place);
  const target = join(place, path.directory ? 'out' : 'out.safetensors');
  const rng = createRng(seed);
  let anySaveCompleted = false;
  for (let k = 0; k < kills; k++) {
    const where = `${place} kill ${k}`;
    const child = startChild(bundle, [kind, target]);
    let line = await child.nextLine();
    if (line !== 'saving') throw new Error(`child did not start saving: ${line}`);
    let lastMs = 20;
    for (let n = Math.floor(rng.next() * 3); n > 0; n--) {
      line = await child.nextLine();
      lastMs = Number(line?.split(' ')[1] ?? lastMs);
      anySaveCompleted = true;
    }
    await new Promise((r) => setTimeout(r, rng.next() * lastMs));
    await child.kill();
    stats.kills++;

    let got = snapshot(target);
    if (got === null && path.directory) {
      // Killed between the two renames of a directory swap: loaders read the complete copy beside it.
      got = await readDirConsistent(target, async (root) => snapshot(root));
      if (got !== null) stats.betweenRenames++;
    }
    if (got === null) {
      if (anySaveCompleted) stats.problems.push(`${where}: nothing loadable is left after a completed save`);
      stats.absent++;
    } else if (sameSet(got, states[0]!)) stats.state0++;
    else if (sameSet(got, states[1]!)) stats.state1++;
    else stats.problems.push(`${where}: the target is neither state (files: ${[...got.keys()].join(', ')})`);
    if (got !== null) {
      try {
        await path.load(target);
      } catch (e) {
        stats.problems.push(`${where}: does not load: ${(e as Error).message}`);
      }
    }
    if (tempEntries(place).length > 0) stats.leftovers++;

    // The next save removes the dead writer's leftovers.
    const which = (k % 2) as 0 | 1;
    await path.save(which, target);
    anySaveCompleted = true;
    const left = tempEntries(place);
    if (left.length) stats.problems.push(`${where}: left after the next save: ${left.join(', ')}`);
    if (!sameSet(snapshot(target), states[which]!))
      stats.problems.push(`${where}: the next save did not write state ${which}`);
  }
}
