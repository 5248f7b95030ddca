/** A tiny base model and adapter files for the `--setup` tests of `eval` and `generate`. */
import { join } from 'node:path';
import { expect } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { loadBaseModel } from '../../src/cli/base-model.js';
import { saveAdaptersToFile } from '../../src/io/files-by-path.js';
import { runCli, TINY_MODEL_FLAGS } from './in-process.js';

/** Paths of the tiny base model and of the adapter files made for it. */
export interface ComposedAdapters {
  base: string;
  /** Linear adapters `a` and `b` and the fusion layer `a,b`. */
  both: string;
  /** Adapter `a` alone. */
  onlyA: string;
  /** Adapter `b` alone. */
  onlyB: string;
}

/**
 * Pretrains a tiny base model in `dir` and writes adapter files for it: linear adapters `a` and `b`
 * with random (non-zero) weights, so that the order and choice of adapters changes the outputs.
 */
export async function makeComposedAdapters(dir: string): Promise<ComposedAdapters> {
  const base = join(dir, 'base');
  const r = await runCli(
    'pretrain',
    '--steps',
    '1',
    ...TINY_MODEL_FLAGS,
    '--out',
    base,
    '--progress',
    'none',
  );
  expect(r.code).toBe(0);
  const { model } = await loadBaseModel(base);
  const d = model.cfg.dModel;
  model.addAdapter('a', { type: 'linear', inFeatures: d, dim: 4 });
  model.addAdapter('b', { type: 'linear', inFeatures: d, dim: 4 });
  model.addFusion(['a', 'b']);
  let seed = 1;
  for (const [path, p] of model.namedParameters()) {
    if (/adapter_layer\.[ab]\./.test(path))
      tf.tidy(() => p.assign(tf.randomNormal(p.shape, 0, 0.5, 'float32', seed++)));
  }
  const paths: ComposedAdapters = {
    base,
    both: join(dir, 'ab.safetensors'),
    onlyA: join(dir, 'a.safetensors'),
    onlyB: join(dir, 'b.safetensors'),
  };
  await saveAdaptersToFile(model, paths.both, ['a', 'b']);
  await saveAdaptersToFile(model, paths.onlyA, 'a');
  await saveAdaptersToFile(model, paths.onlyB, 'b');
  model.dispose();
  return paths;
}
