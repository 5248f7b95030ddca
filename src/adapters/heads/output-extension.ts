/**
 * The rows an adapter adds to a linear output layer (SPEC §5.2 `extendOutput`): `k` new classes,
 * computed from the same input as the layer's own rows.
 */
import { tf, type Tensor, type Variable } from '../../backend/tf.js';
import { linear } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';

/**
 * `x·Wᵀ + b` for the new rows only. State keys: `weight` [k, in], `bias` [k]. Both start at zero, so
 * the new logits start at 0 and the extension is deterministic before training.
 */
export class OutputExtension extends Module {
  static override readonly typeName: string = 'OutputExtension';
  readonly weight: Variable;
  readonly bias: Variable;

  constructor(
    readonly inFeatures: number,
    readonly newLabels: readonly string[],
  ) {
    super();
    this.weight = this.registerParameter('weight', tf.zeros([newLabels.length, inFeatures]));
    this.bias = this.registerParameter('bias', tf.zeros([newLabels.length]));
  }

  /** `x [..., in]` → the new logits `[..., k]`. */
  override forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
