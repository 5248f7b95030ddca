/**
 * A training worker: a BullMQ `Worker` on one queue whose processor runs in a child process
 * (sandboxed), so long CPU-bound training steps never starve lock renewal. Start any number of
 * workers, on any machines, against one Redis and one store. Node only.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { mkdir } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FsAdapterStore } from '../store/fs-store.js';
import { DEFAULT_QUEUE, PROCESSOR_ENV } from './queue-names.js';

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  redis: string;
  /** Store directory (local or shared) adapters are written to. */
  store: string;
  /** Checkpoint directory, keyed by job id. Default `<store>/.checkpoints`: on a shared store, a retry on another machine resumes. */
  scratch?: string;
  queue?: string;
  /** Jobs run at once by this worker, each in its own child process. Default 1 (training uses the cores). */
  concurrency?: number;
  /** How long a job's lock lives without renewal; a dead worker's job is retried after about this long. Default 30 000 ms. */
  lockDurationMs?: number;
  /** How often stalled jobs (of dead workers) are looked for. Default: the lock duration. */
  stalledIntervalMs?: number;
}

/** The sandboxed processor file next to this one, and the loader a child needs when running from TypeScript sources. */
function processorFile(): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const file = join(here, '..', `processor${ext}`);
  if (ext !== '.ts' || process.execArgv.some((a) => a.includes('tsx')))
    return { file, execArgv: [...process.execArgv] };
  return { file, execArgv: [...process.execArgv, '--import', import.meta.resolve('tsx')] };
}

/** Starts a worker; close it with `await worker.close()`. */
export async function startWorker(opts: StartWorkerOptions): Promise<Worker> {
  const store = new FsAdapterStore(resolve(opts.store));
  const scratch = resolve(opts.scratch ?? join(opts.store, '.checkpoints'));
  await mkdir(scratch, { recursive: true });
  await store.sweepStale();
  const lockDuration = opts.lockDurationMs ?? 30_000;
  const { file, execArgv } = processorFile();
  const connection = new Redis(opts.redis, { maxRetriesPerRequest: null });
  const worker = new Worker(opts.queue ?? DEFAULT_QUEUE, file, {
    connection,
    concurrency: opts.concurrency ?? 1,
    lockDuration,
    stalledInterval: opts.stalledIntervalMs ?? lockDuration,
    maxStalledCount: 2,
    useWorkerThreads: false,
    workerForkOptions: {
      execArgv,
      env: { ...process.env, [PROCESSOR_ENV.store]: store.root, [PROCESSOR_ENV.scratch]: scratch },
    },
  });
  worker.on('closed', () => connection.disconnect());
  return worker;
}
