/**
 * Training jobs on a queue: `adapterkit worker`, `submit` (one job, or with `--export-to` the flow
 * train → evaluate → export PEFT), `status`, `results` and `cancel`.
 */
import { Command, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { AdapterError } from '../../errors.js';
import { JobClient } from '../../jobs/client.js';
import { JOB_METHODS, type JobMethodInput, type TrainJobInput } from '../../jobs/payload.js';
import type { AdaptMethod } from '../../recipes/adapt.js';
import { DEFAULT_QUEUE } from '../../jobs/queue-names.js';
import { startWorker } from '../../jobs/worker.js';
import { FsAdapterStore } from '../../store/fs-store.js';
import { nameList, nonNegativeInt, positiveInt, positiveNumber } from '../args.js';
import { DEFAULT_BASE_DIR } from '../base-model.js';
import {
  methodFromFlags,
  modulesToSaveOption,
  prefixHiddenOption,
  prefixProjectionOption,
  prefixTokensOption,
} from './adapt.js';

const redisOption = () =>
  new Option('--redis <url>', 'Redis URL').default(process.env.ADAPTERKIT_REDIS ?? 'redis://127.0.0.1:6379');
const queueOption = () => new Option('--queue <name>', 'queue name').default(DEFAULT_QUEUE);
const printJson = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);

/** `adapterkit worker`: runs training jobs until interrupted. */
export function workerCommand(): Command {
  return new Command('worker')
    .description(
      'run adapter-training jobs from the queue, each in a child process, writing adapters to the store',
    )
    .addOption(redisOption())
    .requiredOption('--store <dir>', 'adapter store directory (local or shared by every worker)')
    .option('--scratch <dir>', 'checkpoint directory keyed by job id (default <store>/.checkpoints)')
    .addOption(queueOption())
    .option('--concurrency <n>', 'jobs run at once by this worker', positiveInt('--concurrency'), 1)
    .option(
      '--lock-ms <ms>',
      "job lock duration: a dead worker's job is taken over after about this long",
      positiveInt('--lock-ms'),
      30_000,
    )
    .action(async (o) => {
      const worker = await startWorker({
        redis: o.redis,
        store: o.store,
        scratch: o.scratch,
        queue: o.queue,
        concurrency: o.concurrency,
        lockDurationMs: o.lockMs,
      });
      worker.on('progress', (job, progress) => printJson({ event: 'progress', id: job.id, progress }));
      worker.on('completed', (job, result) =>
        printJson({ event: 'completed', id: job.id, name: job.name, result }),
      );
      worker.on('failed', (job, err) =>
        printJson({
          event: 'failed',
          id: job?.id,
          name: job?.name,
          attemptsMade: job?.attemptsMade,
          reason: err.message,
        }),
      );
      worker.on('error', (err) => console.error(`worker: ${err.message}`));
      await worker.waitUntilReady();
      printJson({ event: 'ready', pid: process.pid, queue: o.queue, store: o.store });
      await new Promise<void>((resolve) => {
        const stop = () => void worker.close().then(resolve, resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}

/** `submit`'s flags as commander parses them (defaults filled in). */
interface SubmitFlags {
  payload?: string;
  name?: string;
  base: string;
  data: string;
  method: (typeof JOB_METHODS)[number];
  rank: number;
  alpha?: number;
  targets: string[];
  dim: number;
  scaling: number;
  prefixTokens: number;
  prefixProjection?: boolean;
  prefixHidden?: number;
  modulesToSave?: string[];
  steps: number;
  batch: number;
  seqLen?: number;
  lr?: number;
  seed: number;
  replace?: boolean;
}

/** The payload built from `submit`'s flags (or read from `--payload`). */
async function payloadFrom(o: SubmitFlags): Promise<TrainJobInput> {
  if (o.payload) {
    try {
      return JSON.parse(await readFile(o.payload, 'utf8')) as TrainJobInput;
    } catch (e) {
      throw new AdapterError('INVALID_INPUT', `--payload ${o.payload}: ${(e as Error).message}`);
    }
  }
  if (!o.name)
    throw new AdapterError('INVALID_INPUT', 'submit needs --name <adapter> (or --payload <file.json>)');
  // The flags mean what they mean for `adapterkit adapt`, checked the same way.
  // Never 'full' (not a --method choice here); every other method's options are a job method's.
  const method: JobMethodInput = methodFromFlags(o) as Exclude<AdaptMethod, { kind: 'full' }>;
  return {
    name: o.name,
    base: o.base,
    data: o.data,
    method,
    training: {
      steps: o.steps,
      batch: o.batch,
      ...(o.seqLen ? { seqLen: o.seqLen } : {}),
      ...(o.lr ? { lr: o.lr } : {}),
    },
    seed: o.seed,
    replace: Boolean(o.replace),
  };
}

/** `adapterkit submit`: enqueues a training job, or the flow train → evaluate → export with `--export-to`. */
export function submitCommand(): Command {
  return new Command('submit')
    .description(
      'enqueue an adapter-training job (with --export-to: the flow train → evaluate → export PEFT)',
    )
    .addOption(redisOption())
    .addOption(queueOption())
    .option('--payload <file>', 'the job payload as JSON (see README); replaces the flags below')
    .option('--name <adapter>', 'name of the adapter in the store')
    .option('--base <dir>', 'base model directory, as the workers see it', DEFAULT_BASE_DIR)
    .option(
      '--data <ref>',
      'built-in corpus (mobydick, sotu) or a .txt/.jsonl path, as the workers see it',
      'sotu',
    )
    .addOption(new Option('--method <kind>', 'adapter method').choices(JOB_METHODS).default('lora'))
    .option('--rank <n>', 'LoRA or VeRA rank', positiveInt('--rank'), 8)
    .option('--alpha <x>', 'LoRA alpha (default 2 × rank)', positiveNumber('--alpha'))
    .option('--targets <list>', 'LoRA or VeRA target modules, comma-separated', nameList('--targets'), [
      'q_proj',
      'v_proj',
    ])
    .option(
      '--dim <n>',
      'bottleneck width of the linear or parallel adapter (and of MAM’s parallel part)',
      positiveInt('--dim'),
      32,
    )
    .option(
      '--scaling <x>',
      'output scale of the parallel adapter and of MAM’s parallel part',
      positiveNumber('--scaling'),
      4,
    )
    .addOption(prefixTokensOption())
    .addOption(prefixProjectionOption())
    .addOption(prefixHiddenOption())
    .addOption(modulesToSaveOption())
    .option('--steps <n>', 'optimizer steps', positiveInt('--steps'), 200)
    .option('--batch <n>', 'sequences per step', positiveInt('--batch'), 16)
    .option('--seq-len <n>', 'characters per sequence (default: the model context)', positiveInt('--seq-len'))
    .option('--lr <x>', 'peak learning rate (default: per method)', positiveNumber('--lr'))
    .option('--seed <n>', 'seed', nonNegativeInt('--seed'), 0)
    .option('--replace', 'replace an adapter of the same name written by another job')
    .option('--job-id <id>', 'job id (a second submit with the same id is ignored)')
    .option('--attempts <n>', 'attempts for transient failures', positiveInt('--attempts'), 3)
    .option(
      '--export-to <dir>',
      'run the flow train → evaluate → export PEFT into this directory (methods lora and vera)',
    )
    .action(async (o) => {
      const client = new JobClient(o.redis, o.queue);
      try {
        const payload = await payloadFrom(o as SubmitFlags);
        const opts = { attempts: o.attempts, ...(o.jobId ? { jobId: o.jobId } : {}) };
        if (o.exportTo)
          printJson({ event: 'submitted', flow: await client.submitFlow(payload, o.exportTo, opts) });
        else printJson({ event: 'submitted', id: await client.submit(payload, opts) });
      } finally {
        await client.close();
      }
    });
}

/** `adapterkit status`: one job's state and progress, or the newest jobs. */
export function statusCommand(): Command {
  return new Command('status')
    .description(
      "show a job's state, progress (step, loss, tokens/s), attempts and result, or list the newest jobs",
    )
    .argument('[jobId]', 'job id (default: list jobs)')
    .addOption(redisOption())
    .addOption(queueOption())
    .action(async (jobId: string | undefined, o) => {
      const client = new JobClient(o.redis, o.queue);
      try {
        if (!jobId) {
          for (const s of await client.list()) printJson(s);
          return;
        }
        const s = await client.status(jobId);
        if (!s) throw new AdapterError('INVALID_INPUT', `no job ${jobId} in queue '${o.queue}'`);
        printJson(s);
      } finally {
        await client.close();
      }
    });
}

/** `adapterkit results`: the adapters in the store (manifests), or one adapter verified. */
export function resultsCommand(): Command {
  return new Command('results')
    .description(
      'list the adapters in the store (name, job, content hash, metrics); with a name, verify its files and print its manifest',
    )
    .argument('[name]', 'adapter name')
    .requiredOption('--store <dir>', 'adapter store directory')
    .action(async (name: string | undefined, o) => {
      const store = new FsAdapterStore(o.store);
      if (name) {
        printJson((await store.get(name)).manifest);
        return;
      }
      for (const m of await store.list())
        printJson({
          name: m.name,
          jobId: m.jobId,
          kind: m.kind,
          format: m.format,
          contentHash: m.contentHash,
          metrics: m.metrics,
          createdAt: m.createdAt,
        });
    });
}

/** `adapterkit cancel`: removes a job that has not started. */
export function cancelCommand(): Command {
  return new Command('cancel')
    .description('remove a waiting or delayed job from the queue (running jobs are not interrupted)')
    .argument('<jobId>', 'job id')
    .addOption(redisOption())
    .addOption(queueOption())
    .action(async (jobId: string, o) => {
      const client = new JobClient(o.redis, o.queue);
      try {
        await client.cancel(jobId);
        printJson({ event: 'cancelled', id: jobId });
      } finally {
        await client.close();
      }
    });
}
