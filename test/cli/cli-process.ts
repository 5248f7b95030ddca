/** Runs the CLI as a real child process (exit codes, standard error and signals are the process's own). */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = (cli: string[]) => ['--import', 'tsx', `${root}/src/cli/main.ts`, ...cli];

/** Runs `adapterkit …` to completion. */
export function cli(...cliArgs: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, args(cliArgs), { cwd: root, encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `adapterkit …` and returns the process (its output collected in `out`). */
export function startCli(...cliArgs: string[]): {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  exit: Promise<number | null>;
} {
  const child = spawn(process.execPath, args(cliArgs), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d) => (out.stdout += String(d)));
  child.stderr!.on('data', (d) => (out.stderr += String(d)));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, out, exit };
}

/** Asserts-friendly summary: the error line must be one line and short. */
export function isOneShortLine(text: string, max = 400): boolean {
  return text.trim().split('\n').length === 1 && Buffer.byteLength(text) < max;
}

/** Runs `adapterkit …` to completion without blocking the test process. */
export function cliAsync(
  ...cliArgs: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const p = startCli(...cliArgs);
  return p.exit.then((status) => ({ status, ...p.out }));
}

/**
 * Runs several CLI commands, at most `limit` at a time (each child is single-threaded, so this uses the
 * cores while keeping the machine usable); resolves each one by name.
 */
export function cliBatch<K extends string>(
  commands: Record<K, string[]>,
  limit = 2,
): Record<K, ReturnType<typeof cliAsync>> {
  const queue = Object.entries(commands) as Array<[K, string[]]>;
  const results = {} as Record<K, ReturnType<typeof cliAsync>>;
  const slots: Array<Promise<unknown>> = Array.from({ length: limit }, () => Promise.resolve());
  queue.forEach(([name, args], i) => {
    const slot = i % limit;
    const r = slots[slot]!.then(() => cliAsync(...args));
    slots[slot] = r.catch(() => {});
    results[name] = r;
  });
  return results;
}
