/**
 * Whole-model checkpoints (SPEC §2.11): the model config (including `cfg.adapters`) as JSON plus
 * every parameter and persistent buffer as safetensors.
 */
import { AdapterError, check, isPlainObject } from '../errors.js';
import type { Module } from '../nn/module.js';
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
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the config is JSON that the factory's own constructor checks; `any` lets callers write `(cfg) => new CharLM(cfg)` with no cast
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
