/**
 * Runs `adapterkit adapt` in child processes: TensorFlow.js's wasm backend uses one thread, so
 * several processes use several cores.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BACKEND_ENV_VAR, getBackendInfo } from '../backend/backend.js';
import { AdapterError, type AdapterErrorCode } from '../errors.js';
import { THREADS_ENV_VAR } from '../backend/native.js';
import type { AdaptRecord } from './adapt-run.js';
import { onInterrupt } from './interrupt.js';
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
    const env = {
      ...process.env,
      [BACKEND_ENV_VAR]: getBackendInfo().name,
      [THREADS_ENV_VAR]: process.env[THREADS_ENV_VAR] ?? '1',
    };
    // Its own process group, so a Ctrl-C reaches it once, forwarded below, and it stops cleanly
    // (two signals would make it stop at once).
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
      detached: true,
    });
    const forget = onInterrupt((signal) => child.kill(signal));
    let record: T | undefined;
    let failure: { code: string; message: string } | undefined;
    let stderr = '';
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let msg: {
        event?: string;
        step?: number;
        loss?: number;
        tokensPerSecond?: number;
        record?: T;
        code?: string;
        message?: string;
      };
      try {
        msg = JSON.parse(line);
      } catch {
        return; // not a JSON line
      }
      if (msg.event === 'step')
        progress?.update({ step: msg.step!, loss: msg.loss!, tokensPerSecond: msg.tokensPerSecond! });
      else if (msg.event === 'result') record = msg.record;
      else if (msg.event === 'error') failure = { code: String(msg.code), message: String(msg.message) };
    });
    child.stderr!.on('data', (d) => (stderr += String(d)));
    child.on('error', (e) => {
      forget();
      reject(e);
    });
    child.on('close', (code) => {
      forget();
      progress?.stop();
      if (code === 0 && record !== undefined) resolve(record);
      else {
        // The child's own one-line report (its JSON error event, else its last line of standard error).
        const why = failure?.message ?? stderr.trim().split('\n').at(-1) ?? '';
        const out = args.indexOf('--out');
        const command = `adapterkit ${args[0]}${out >= 0 ? ` --out ${args[out + 1]}` : ''}`;
        reject(
          new AdapterError(
            (failure?.code ?? 'INVALID_INPUT') as AdapterErrorCode,
            `${command} failed (exit ${code}): ${why}`,
          ),
        );
      }
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
