/**
 * Runs `adapterkit adapt` in child processes: TensorFlow.js's wasm backend uses one thread, so
 * several processes use several cores.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BACKEND_ENV_VAR, getBackendInfo } from '../backend/backend.js';
import { THREADS_ENV_VAR } from '../backend/native.js';
import type { AdaptRecord } from './adapt-run.js';
import type { Progress } from './progress.js';

/**
 * Runs an `adapterkit` command in a child process (same Node flags, so it also works under tsx, and
 * the same TensorFlow.js backend). The
 * command prints JSON lines: `{event: 'step', …}` updates go to `progress`, and the `record` of the
 * `{event: 'result', record}` line is what the promise resolves to.
 */
export function runCliChild<T>(args: string[], progress?: Progress): Promise<T> {
  return new Promise((resolve, reject) => {
    // The child uses the parent's backend, however the parent chose it (flag or environment).
    // Children run side by side, one core each: one BLAS thread each unless the user chose otherwise.
    const env = { ...process.env, [BACKEND_ENV_VAR]: getBackendInfo().name, [THREADS_ENV_VAR]: process.env[THREADS_ENV_VAR] ?? '1' };
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let record: T | undefined;
    let stderr = '';
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let msg: { event?: string; step?: number; loss?: number; tokensPerSecond?: number; record?: T };
      try {
        msg = JSON.parse(line);
      } catch {
        return; // not a JSON line
      }
      if (msg.event === 'step') progress?.update({ step: msg.step!, loss: msg.loss!, tokensPerSecond: msg.tokensPerSecond! });
      else if (msg.event === 'result') record = msg.record;
    });
    child.stderr!.on('data', (d) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (code) => {
      progress?.stop();
      if (code === 0 && record !== undefined) resolve(record);
      else reject(new Error(`adapterkit ${args.join(' ')} failed (exit ${code}):\n${stderr.trim()}`));
    });
  });
}

/** Runs `adapterkit adapt` in a child process, feeding its progress to `progress`. */
export function runAdaptChild(args: string[], progress: Progress): Promise<AdaptRecord> {
  return runCliChild<AdaptRecord>(['adapt', ...args, '--progress', 'json'], progress);
}

/** Runs `tasks` with at most `limit` at a time, keeping their order in the result. */
export async function pool<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return out;
}

