/**
 * Whole-model checkpoints (SPEC §2.11): the model config (including `cfg.adapters`) as JSON plus
 * every parameter and persistent buffer as safetensors.
 */
import { AdapterError, check, isPlainObject } from '../errors.js';
import type { Module } from '../nn/module.js';
import { readDirConsistent, writeDirAtomic } from './atomic-dir.js';
import { readFileBytes } from './atomic-file.js';
import { safetensorsFromTensors, tensorsFromSafetensors } from './safetensors-tf.js';

/** A whole-model checkpoint: the config as JSON text and the state dict as safetensors bytes. */
export interface ModelCheckpoint {
  config: string;
  weights: Uint8Array;
}

/** A model that carries its own config. */
export type ConfiguredModule = Module & { cfg: object };

/** Serialises `model`'s config and full state dict. */
export function saveModel(model: ConfiguredModule): ModelCheckpoint {
  return {
    config: JSON.stringify(model.cfg),
    weights: safetensorsFromTensors(model.stateDict(), { source: `${model.typeName} weights` }),
  };
}

/**
 * Builds a model with `factory` from the checkpoint's config (its constructor recreates the recorded
 * adapters) and loads the full state dict strictly.
 */
export function restoreModel<M extends Module>(factory: (cfg: any) => M, ckpt: ModelCheckpoint): M {
  let cfg: unknown;
  try {
    cfg = JSON.parse(ckpt.config);
  } catch {
    throw new AdapterError('CHECKPOINT_FORMAT', 'model checkpoint: config is not valid JSON');
  }
  check(isPlainObject(cfg), 'CHECKPOINT_FORMAT', () => 'model checkpoint: config must be a JSON object');
  const weights = tensorsFromSafetensors(ckpt.weights, 'model checkpoint weights');
  try {
    const model = factory(cfg);
    try {
      model.loadStateDict(weights, { strict: true });
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  } finally {
    for (const t of weights.values()) t.dispose();
  }
}

/** File names of a model checkpoint directory. */
export const MODEL_CONFIG_FILE = 'config.json';
export const MODEL_WEIGHTS_FILE = 'model.safetensors';

/**
 * Writes `model` to `dir/config.json` and `dir/model.safetensors` (Node). The directory is replaced as a
 * whole (see `atomic-dir.ts`): a crash at any moment leaves the old pair or the new one, never a mix.
 */
export async function saveModelToDir(model: ConfiguredModule, dir: string): Promise<void> {
  const ckpt = saveModel(model);
  const files = new Map<string, Uint8Array | string>([
    [MODEL_WEIGHTS_FILE, ckpt.weights],
    [MODEL_CONFIG_FILE, `${JSON.stringify(JSON.parse(ckpt.config), null, 2)}\n`],
  ]);
  await writeDirAtomic(dir, files, 'saveModelToDir');
}

/** Reads a checkpoint directory written by {@link saveModelToDir} as one consistent pair (Node). */
export async function readModelDir(dir: string): Promise<ModelCheckpoint> {
  const { join } = await import('node:path');
  return readDirConsistent(dir, async (root) => {
    const config = new TextDecoder().decode(await readFileBytes(join(root, MODEL_CONFIG_FILE)));
    return { config, weights: await readFileBytes(join(root, MODEL_WEIGHTS_FILE)) };
  });
}
