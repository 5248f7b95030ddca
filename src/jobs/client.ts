/**
 * Producing and inspecting training jobs: submit one, submit a train → evaluate → export flow, read a
 * job's state and progress, cancel a job that has not started. Node only.
 */
import { FlowProducer, Queue, type Job, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { AdapterError } from '../errors.js';
import {
  checkPeftExportable,
  evaluateJobSchema,
  exportJobSchema,
  parsePayload,
  trainJobSchema,
  type TrainJobInput,
} from './payload.js';
import { DEFAULT_QUEUE, JOB_NAMES } from './queue-names.js';

/** Retry policy of submitted jobs. */
export interface SubmitOptions {
  /** Job id; a second submit with the same id is ignored by the queue. Default: assigned by the queue. */
  jobId?: string;
  /** Attempts for transient failures (invalid jobs fail at once). Default 3. */
  attempts?: number;
  /** First retry delay; doubles at each retry. Default 2000 ms. */
  backoffMs?: number;
  /** Lower runs first (BullMQ priority). */
  priority?: number;
}

/** A connection to the job queue (one Redis, one queue name). */
export class JobClient {
  readonly queue: Queue;
  private readonly connection: Redis;
  private flow?: FlowProducer;

  constructor(
    redisUrl: string,
    readonly queueName: string = DEFAULT_QUEUE,
  ) {
    // A producer fails fast when Redis is unreachable instead of retrying forever.
    this.connection = new Redis(redisUrl, {
      maxRetriesPerRequest: 1,
      retryStrategy: (n) => (n > 3 ? null : 200 * n),
    });
    this.connection.on('error', () => undefined); // surfaced by the failing command instead
    this.queue = new Queue(queueName, { connection: this.connection });
  }

  /** Validates and enqueues a training job; resolves to its id. */
  async submit(input: TrainJobInput, opts: SubmitOptions = {}): Promise<string> {
    const payload = parsePayload(trainJobSchema, input, 'training job');
    const job = await this.queue.add(JOB_NAMES.train, payload, jobOptions(opts));
    return String(job.id);
  }

  /**
   * Enqueues train → evaluate → export as a BullMQ flow: export waits for evaluate, which waits for
   * train. Resolves to the three job ids. Refuses, before enqueueing anything, a method whose
   * adapter has no PEFT form (`UNSUPPORTED_FEATURE`; `PEFT_JOB_METHODS` can be exported).
   */
  async submitFlow(
    input: TrainJobInput,
    exportDir: string,
    opts: SubmitOptions = {},
  ): Promise<{ train: string; evaluate: string; export: string }> {
    const payload = parsePayload(trainJobSchema, input, 'training job');
    checkPeftExportable(payload);
    const evaluate = parsePayload(
      evaluateJobSchema,
      {
        name: payload.name,
        base: payload.base,
        data: payload.data,
        textField: payload.textField,
        batch: payload.training.batch,
      },
      'evaluate job',
    );
    const exp = parsePayload(exportJobSchema, { name: payload.name, out: exportDir }, 'export job');
    this.flow ??= new FlowProducer({ connection: this.connection });
    const base = jobOptions({ ...opts, jobId: undefined });
    const tree = await this.flow.add({
      name: JOB_NAMES.export,
      queueName: this.queueName,
      data: exp,
      opts: { ...base, ...(opts.jobId ? { jobId: `${opts.jobId}-export` } : {}) },
      children: [
        {
          name: JOB_NAMES.evaluate,
          queueName: this.queueName,
          data: evaluate,
          opts: {
            ...base,
            failParentOnFailure: true,
            ...(opts.jobId ? { jobId: `${opts.jobId}-evaluate` } : {}),
          },
          children: [
            {
              name: JOB_NAMES.train,
              queueName: this.queueName,
              data: payload,
              opts: { ...base, failParentOnFailure: true, ...(opts.jobId ? { jobId: opts.jobId } : {}) },
            },
          ],
        },
      ],
    });
    const evalNode = tree.children![0]!;
    return {
      export: String(tree.job.id),
      evaluate: String(evalNode.job.id),
      train: String(evalNode.children![0]!.job.id),
    };
  }

  /** A job's state, progress, attempts, failure reason and return value; `UNKNOWN_ADAPTER`-free: null when no such job. */
  async status(jobId: string): Promise<JobStatus | null> {
    const job = await this.queue.getJob(jobId);
    if (!job) return null;
    return statusOf(job, await job.getState());
  }

  /** Status of the newest jobs in the given states. */
  async list(
    states: Array<
      'waiting' | 'active' | 'completed' | 'failed' | 'delayed' | 'prioritized' | 'waiting-children'
    > = ['waiting', 'active', 'completed', 'failed', 'delayed'],
    limit = 100,
  ): Promise<JobStatus[]> {
    const out: JobStatus[] = [];
    for (const state of states) {
      for (const job of await this.queue.getJobs([state], 0, limit - 1))
        if (job) out.push(statusOf(job, state));
    }
    return out;
  }

  /**
   * Removes a job that is waiting or delayed. A job already running is not interrupted (its worker
   * holds the lock): `INVALID_INPUT` says so; finished jobs stay as records.
   */
  async cancel(jobId: string): Promise<void> {
    const job = await this.queue.getJob(jobId);
    if (!job) throw new AdapterError('INVALID_INPUT', `no job ${jobId} in queue '${this.queueName}'`);
    const state = await job.getState();
    if (state === 'active' || state === 'completed' || state === 'failed') {
      throw new AdapterError(
        'INVALID_INPUT',
        `job ${jobId} is ${state}; only waiting, delayed or prioritized jobs can be cancelled`,
      );
    }
    await job.remove();
  }

  async close(): Promise<void> {
    await this.flow?.close();
    await this.queue.close();
    this.connection.disconnect();
  }
}

/** What {@link JobClient.status} reports. */
export interface JobStatus {
  id: string;
  name: string;
  state: string;
  progress: unknown;
  attemptsMade: number;
  failedReason?: string;
  returnValue?: unknown;
  adapter?: string;
}

function statusOf(job: Job, state: string): JobStatus {
  return {
    id: String(job.id),
    name: job.name,
    state,
    progress: job.progress,
    attemptsMade: job.attemptsMade,
    ...(job.failedReason ? { failedReason: job.failedReason } : {}),
    ...(job.returnvalue !== undefined && job.returnvalue !== null ? { returnValue: job.returnvalue } : {}),
    ...(typeof job.data?.name === 'string' ? { adapter: job.data.name } : {}),
  };
}

function jobOptions(opts: SubmitOptions): JobsOptions {
  return {
    attempts: opts.attempts ?? 3,
    backoff: { type: 'exponential', delay: opts.backoffMs ?? 2000 },
    ...(opts.jobId ? { jobId: opts.jobId } : {}),
    ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
    removeOnComplete: false,
    removeOnFail: false,
  };
}
