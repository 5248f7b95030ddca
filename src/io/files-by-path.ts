/**
 * Adapter files and whole-model checkpoints by path: the in-memory formats of `adapter-file.ts` and
 * `model-checkpoint.ts`, read from and written atomically to the file system. Node only: exported from
 * `adapterkit/node`.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadAdaptersOptions, LoadAdaptersResult } from '../adapters/checkpoint-codec.js';
import type { Module } from '../nn/module.js';
import { loadAdapters, saveAdapters } from './adapter-file.js';
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

/** Writes `model` to `dir/config.json` and `dir/model.safetensors`, each atomically. */
export async function saveModelToDir(model: ConfiguredModule, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const ckpt = saveModel(model);
  await writeFileAtomic(join(dir, MODEL_WEIGHTS_FILE), ckpt.weights);
  await writeFileAtomic(
    join(dir, MODEL_CONFIG_FILE),
    `${JSON.stringify(JSON.parse(ckpt.config), null, 2)}\n`,
  );
}

/** Reads a checkpoint directory written by {@link saveModelToDir}. */
export async function readModelDir(dir: string): Promise<ModelCheckpoint> {
  const config = new TextDecoder().decode(await readFileBytes(join(dir, MODEL_CONFIG_FILE)));
  return { config, weights: await readFileBytes(join(dir, MODEL_WEIGHTS_FILE)) };
}
