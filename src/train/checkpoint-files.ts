/**
 * Trainer checkpoint files (Node only, exported from `adapterkit/node`). Files are written atomically
 * (temporary file, fsync, rename), so a crash never leaves a truncated checkpoint under the final name.
 */
import { readFileBytes } from '../io/atomic-file.js';
import { nodePathFiles } from '../io/node-path-files.js';
import {
  decodeTrainerCheckpoint,
  encodeTrainerCheckpoint,
  trainerCheckpointsIn,
  type TrainerCheckpoint,
} from './checkpoint.js';

/** Trainer checkpoints in `dir` as `{step, file}`, ascending by step. */
export async function listTrainerCheckpoints(dir: string): Promise<Array<{ step: number; file: string }>> {
  return trainerCheckpointsIn(nodePathFiles, dir);
}

/** The newest trainer checkpoint in `dir`, or `null` when there is none. */
export async function latestTrainerCheckpoint(dir: string): Promise<string | null> {
  const all = await listTrainerCheckpoints(dir);
  return all.length ? all[all.length - 1]!.file : null;
}

/**
 * Saves a trainer checkpoint to `file` atomically, creating its directory.
 *
 * @example
 * ```ts
 * await saveTrainerCheckpoint('runs/a/checkpoint-00000010.safetensors', trainer.checkpoint());
 * ```
 */
export async function saveTrainerCheckpoint(file: string, ckpt: TrainerCheckpoint): Promise<void> {
  await nodePathFiles.writeFile(file, encodeTrainerCheckpoint(ckpt));
}

/**
 * Loads a trainer checkpoint written by {@link saveTrainerCheckpoint}.
 *
 * @example
 * ```ts
 * const ckpt = await loadTrainerCheckpoint(file);
 * ```
 */
export async function loadTrainerCheckpoint(file: string): Promise<TrainerCheckpoint> {
  return decodeTrainerCheckpoint(await readFileBytes(file), file);
}
