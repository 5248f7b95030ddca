/** Shared helpers of the model tests. */
import { tf, type Tensor } from '../../src/backend/tf.js';
import type { Module } from '../../src/nn/module.js';
import { createRng } from '../../src/rng.js';

/** Overwrites every parameter under `adapter_layer` with small seeded random values (so adapters change outputs). */
export function perturbAdapters(model: Module, seed = 7): void {
  const rng = createRng(seed);
  for (const [path, p] of model.namedParameters()) {
    if (!path.includes('adapter_layer')) continue;
    const data = Float32Array.from({ length: p.size }, () => (rng.next() - 0.5) * 0.5);
    tf.tidy(() => p.assign(tf.tensor(data, p.shape, 'float32')));
  }
}

/** The values of `f()`'s tensor, computed in a tidy (nothing leaks). */
export function run(f: () => Tensor): Float32Array {
  return tf.tidy(() => f().dataSync() as Float32Array);
}

/** Paths of trainable parameters. */
export function trainablePaths(model: Module): string[] {
  return model
    .namedParameters()
    .filter(([, p]) => p.trainable)
    .map(([k]) => k);
}
