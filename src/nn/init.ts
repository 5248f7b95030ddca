import { tf, type Tensor } from '../backend/tf.js';
import { getRng, normalArray, uniformArray, type Rng } from '../rng.js';

/** A tensor of i.i.d. U(−bound, bound) draws from `rng` (default: the library RNG). */
export function uniform(shape: number[], bound: number, rng: Rng = getRng()): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(uniformArray(n, -bound, bound, rng), shape, 'float32');
}

/** A tensor of i.i.d. N(mean, std²) draws from `rng`. */
export function normal(shape: number[], std = 1, rng: Rng = getRng(), mean = 0): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(normalArray(n, mean, std, rng), shape, 'float32');
}

/** A seed for TensorFlow.js's own seeded random ops, drawn from `rng` so one library seed fixes it. */
export function tfSeed(rng: Rng = getRng()): number {
  return Math.floor(rng.next() * 2 ** 31);
}
