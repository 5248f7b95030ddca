/**
 * Adapter-training jobs on a BullMQ queue (Node only): producers submit jobs and flows, workers run
 * them in sandboxed child processes and write adapters into an {@link AdapterStore}.
 */
export { JobClient, type JobStatus, type SubmitOptions } from './client.js';
export { startWorker, type StartWorkerOptions } from './worker.js';
export { DEFAULT_QUEUE, JOB_NAMES, PROCESSOR_ENV, type JobName } from './queue-names.js';
export {
  JOB_METHODS,
  PEFT_JOB_METHODS,
  checkPeftExportable,
  evaluateJobSchema,
  exportJobSchema,
  jobMethodSchema,
  parsePayload,
  trainJobSchema,
  type EvaluateJobPayload,
  type ExportJobPayload,
  type JobMethod,
  type JobMethodInput,
  type TrainJobInput,
  type TrainJobPayload,
} from './payload.js';
export {
  runEvaluateJob,
  runExportJob,
  runTrainJob,
  type EvaluateJobResult,
  type ExportJobResult,
  type JobContext,
  type TrainJobResult,
  type TrainProgress,
} from './train-job.js';
export { loadJobText } from './job-data.js';
