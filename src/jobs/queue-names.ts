/** Names shared by producers, workers and the sandboxed processor. */

/** The default queue name. */
export const DEFAULT_QUEUE = 'adapterkit';

/** Job names: what a job does. */
export const JOB_NAMES = { train: 'train', evaluate: 'evaluate', export: 'export' } as const;
export type JobName = (typeof JOB_NAMES)[keyof typeof JOB_NAMES];

/** Environment variables through which a worker tells its sandboxed processors where the store and the checkpoints are. */
export const PROCESSOR_ENV = { store: 'ADAPTERKIT_JOB_STORE', scratch: 'ADAPTERKIT_JOB_SCRATCH' } as const;
