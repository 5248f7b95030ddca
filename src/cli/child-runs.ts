/**
 * Runs `adapterkit adapt` in child processes: TensorFlow.js's wasm backend uses one thread, so
 * several processes use several cores.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { AdaptRecord } from './adapt-run.js';
import type { Progress } from './progress.js';

/** Runs `adapterkit adapt` in a child process (same Node flags, so it also works under tsx), feeding its JSON progress to `progress`. */
export function runAdaptChild(args: string[], progress: Progress): Promise<AdaptRecord> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'adapt', ...args, '--progress', 'json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let record: AdaptRecord | undefined;
    let stderr = '';
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let msg: { event?: string; step?: number; loss?: number; tokensPerSecond?: number; record?: AdaptRecord };
      try {
        msg = JSON.parse(line);
      } catch {
        return; // not a progress line
      }
      if (msg.event === 'step') progress.update({ step: msg.step!, loss: msg.loss!, tokensPerSecond: msg.tokensPerSecond! });
      else if (msg.event === 'result') record = msg.record;
    });
    child.stderr!.on('data', (d) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (code) => {
      progress.stop();
      if (code === 0 && record) resolve(record);
      else reject(new Error(`adapt ${args.join(' ')} failed (exit ${code}):\n${stderr.trim()}`));
    });
  });
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

