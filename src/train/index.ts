/**
 * The training layer: AdamW, learning-rate schedules, gradient clipping, losses, the Trainer and its
 * checkpoints (in memory; checkpoint files are in `checkpoint-files.ts`, for Node). Generic over the
 * model and the data; the task recipes built on it are in `src/recipes/`. Re-exported by `src/index.ts`.
 */
export { AdamW, noDecayBiasAndNorm } from './adamw.js';
export type {
  AdamWOptions,
  AdamWParamGroup,
  AdamWParamState,
  AdamWState,
  AdamWStateInput,
  GradientInput,
  OptimizerParams,
} from './adamw.js';
export {
  checkpointFileName,
  decodeTrainerCheckpoint,
  encodeTrainerCheckpoint,
  trainerCheckpointsIn,
} from './checkpoint.js';
export type { CheckpointArray, EarlyStoppingState, EvalRecord, TrainerCheckpoint } from './checkpoint.js';
export { clipGradNorm, clipGradNormOnDevice } from './clip.js';
export type {
  ClipGradNormOptions,
  ClipGradNormResult,
  ClipGradNormTensors,
  GradientContainer,
} from './clip.js';
export { bitsPerChar, crossEntropy, mseLoss, natsToBits, tokenNll } from './losses.js';
export type { CrossEntropyOptions, MaskOrOptions } from './losses.js';
export {
  constantLr,
  createSchedule,
  linearWarmupCosine,
  SCHEDULE_TYPES,
  warmupCosineLr,
} from './schedule.js';
export type { LrSchedule, ScheduleConfig, WarmupCosineOptions } from './schedule.js';
export { SeededRng } from './seeded-rng.js';
export { Trainer } from './trainer.js';
export type { BatchSource, FitOptions, FitResult, StopReason } from './trainer.js';
export type {
  AuxiliaryLossFn,
  AuxiliaryLossSource,
  EarlyStoppingOptions,
  EvalInfo,
  StepInfo,
  TrainerOptions,
  TrainerScheduleOptions,
} from './trainer-options.js';
