/**
 * `tf.customGrad` with the argument types spelled out: its own typing collapses every argument to a
 * union, so each differentiable op here would otherwise cast.
 */
import { tf, type Tensor } from '../tf.js';

/** What a custom-gradient function passes to `save`: tensors kept for the backward pass. */
export type SaveForBackward = (ts: Tensor[]) => void;

/** The forward value and the gradient of a custom-gradient function. */
export interface GradResult {
  value: Tensor;
  gradFunc: (dy: Tensor, saved: Tensor[]) => Tensor[];
}

type CustomGradArg = Parameters<typeof tf.customGrad>[0];

/** A differentiable one-argument op from its forward value and gradient. */
export function customGrad1(f: (a: Tensor, save: SaveForBackward) => GradResult): (a: Tensor) => Tensor {
  return tf.customGrad(f as unknown as CustomGradArg) as unknown as (a: Tensor) => Tensor;
}

/** A differentiable three-argument op from its forward value and gradients. */
export function customGrad3(
  f: (a: Tensor, b: Tensor, c: Tensor, save: SaveForBackward) => GradResult,
): (a: Tensor, b: Tensor, c: Tensor) => Tensor {
  return tf.customGrad(f as unknown as CustomGradArg) as unknown as (
    a: Tensor,
    b: Tensor,
    c: Tensor,
  ) => Tensor;
}

/** A differentiable two-argument op from its forward value and gradients. */
export function customGrad2(
  f: (a: Tensor, b: Tensor, save: SaveForBackward) => GradResult,
): (a: Tensor, b: Tensor) => Tensor {
  return tf.customGrad(f as unknown as CustomGradArg) as unknown as (a: Tensor, b: Tensor) => Tensor;
}
