/**
 * BullMQ's sandboxed processor: the worker runs this file in a child process, so CPU-bound training
 * never blocks the worker's lock renewal. It dispatches on the job name (`train`, `evaluate`,
 * `export`) and turns the library's errors (bad input: unknown dataset, bad config, missing base,
 * name taken) into `UnrecoverableError`, which BullMQ fails at once without retrying. The store and
 * scratch directories come from the environment the worker gives its children.
 */
import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import { initBackend } from '../backend/backend.js';
import { AdapterError } from '../errors.js';
import { FsAdapterStore } from '../store/fs-store.js';
import { JOB_NAMES, PROCESSOR_ENV } from './queue-names.js';
import { runEvaluateJob, runExportJob, runTrainJob } from './train-job.js';

let ready: Promise<unknown> | undefined;

export default async function processTrainingJob(job: SandboxedJob): Promise<unknown> {
  ready ??= initBackend();
  await ready;
  const storeDir = process.env[PROCESSOR_ENV.store];
  const scratchDir = process.env[PROCESSOR_ENV.scratch];
  if (!storeDir || !scratchDir)
    throw new Error(
      `the worker did not set ${PROCESSOR_ENV.store} and ${PROCESSOR_ENV.scratch} for its processor`,
    );
  const store = new FsAdapterStore(storeDir);
  try {
    switch (job.name) {
      case JOB_NAMES.train:
        return await runTrainJob(job.data, {
          jobId: String(job.id),
          store,
          scratchDir,
          onProgress: (p) => void job.updateProgress({ ...p }).catch(() => undefined),
        });
      case JOB_NAMES.evaluate:
        return await runEvaluateJob(job.data, store);
      case JOB_NAMES.export:
        return await runExportJob(job.data, store);
      default:
        throw new AdapterError(
          'INVALID_CONFIG',
          `job name ${JSON.stringify(job.name)} is not one of: ${Object.values(JOB_NAMES).join(', ')}`,
        );
    }
  } catch (e) {
    if (e instanceof AdapterError) throw new UnrecoverableError(`${e.code}: ${e.message}`);
    throw e;
  }
}
