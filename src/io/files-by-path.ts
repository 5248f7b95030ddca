/**
 * Adapter files and whole-model checkpoints by path: the in-memory formats of `adapter-file.ts` and
 * `model-checkpoint.ts`, read from and written atomically to the file system. Node only: exported from
 * `adapterkit/node`.
 */
import { join } from 'node:path';
import type { Module } from '../nn/module.js';
import {
  loadAdapters,
  saveAdapters,
  type LoadAdaptersOptions,
  type LoadAdaptersResult,
} from './adapter-file.js';
import { readDirConsistent, writeDirAtomic } from './atomic-dir.js';
import { readFileBytes, writeFileAtomic } from './atomic-file.js';
import {
  MODEL_CONFIG_FILE,
  MODEL_WEIGHTS_FILE,
  saveModel,
  type ConfiguredModule,
  type ModelCheckpoint,
} from './model-checkpoint.js';
import './node-path-files.js';

/** Writes adapters `names` of `model` to `path` atomically. */
export async function saveAdaptersToFile(
  model: Module,
  path: string,
  names?: string | string[],
): Promise<void> {
  await writeFileAtomic(path, saveAdapters(model, names));
}

/** Loads the adapters in the file at `path` into `model`. */
export async function loadAdaptersFromFile(
  model: Module,
  path: string,
  opts: LoadAdaptersOptions = {},
): Promise<LoadAdaptersResult> {
  return loadAdapters(model, await readFileBytes(path), opts);
}

/**
 * Writes `model` to `dir/config.json` and `dir/model.safetensors`. The directory is replaced as a whole
 * (see `atomic-dir.ts`): a crash at any moment leaves the old pair or the new one, never a mix.
 */
export async function saveModelToDir(model: ConfiguredModule, dir: string): Promise<void> {
  const ckpt = saveModel(model);
  const files = new Map<string, Uint8Array | string>([
    [MODEL_WEIGHTS_FILE, ckpt.weights],
    [MODEL_CONFIG_FILE, `${JSON.stringify(JSON.parse(ckpt.config), null, 2)}\n`],
  ]);
  await writeDirAtomic(dir, files, 'saveModelToDir');
}

/** Reads a checkpoint directory written by {@link saveModelToDir} as one consistent pair. */
export async function readModelDir(dir: string): Promise<ModelCheckpoint> {
  return readDirConsistent(dir, async (root) => {
    const config = new TextDecoder().decode(await readFileBytes(join(root, MODEL_CONFIG_FILE)));
    return { config, weights: await readFileBytes(join(root, MODEL_WEIGHTS_FILE)) };
  });
}
