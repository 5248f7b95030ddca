import { tf, type Tensor } from '../backend/tf.js';
import { heapKernelActive } from '../backend/kernels/heap-kernels.js';
import { fusedGelu } from '../backend/kernels/gelu.js';
import { AdapterError, notOneOf } from '../errors.js';
import { Module } from './module.js';

/** The activation names SPEC §2.9.1 allows (`swish` and `silu` are aliases). */
export const ACTIVATIONS = ['identity', 'hardtanh', 'relu', 'selu', 'swish', 'silu', 'gelu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/**
 * Exact GELU, `0.5·x·(1 + erf(x/√2))` (not the tanh approximation). With the fused kernels
 * registered on wasm (native or JavaScript) it runs as one pass forward and one backward.
 */
export function gelu(x: Tensor): Tensor {
  if (heapKernelActive('gelu')) return fusedGelu(x);
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/** `x·σ(x)`. */
export function swish(x: Tensor): Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

const FUNCTIONS: Record<Activation, (x: Tensor) => Tensor> = {
  identity: (x) => x,
  hardtanh: (x) => tf.clipByValue(x, -1, 1),
  relu: (x) => tf.relu(x),
  selu: (x) => tf.selu(x), // TensorFlow.js uses PyTorch's λ and α
  swish,
  silu: swish,
  gelu,
};

/** The activation function called `name`; anything outside {@link ACTIVATIONS} is `INVALID_CONFIG`. */
export function activationFn(name: string): (x: Tensor) => Tensor {
  const f = (FUNCTIONS as Record<string, (x: Tensor) => Tensor>)[name];
  if (!f) {
    throw new AdapterError('INVALID_CONFIG', notOneOf('activation', name, ACTIVATIONS), {
      field: 'activation',
      value: name,
      valid: [...ACTIVATIONS],
    });
  }
  return f;
}

/** An activation as a parameter-free module (so it occupies an index in a `Sequential`). */
export class ActivationLayer extends Module {
  static override readonly typeName: string = 'Activation';
  private readonly fn: (x: Tensor) => Tensor;
  constructor(readonly options: { activation: Activation | string }) {
    super();
    this.fn = activationFn(options.activation);
  }
  override forward(x: Tensor): Tensor {
    return this.fn(x);
  }
}
