import { tf, type Tensor } from '../../backend/tf.js';
import { AdapterError, describeValue } from '../../errors.js';
import type { Module } from '../../nn/module.js';
import type { RowwiseStrategyKind } from '../rowwise.js';
import type { AdapterInput } from '../types.js';
import { ResidualAddStrategy, residualAddSchema } from './residual-add.js';

/** Fields of `multiplicative`: those of `residualAdd` (`stochasticDepth`, `l2Lambda`). */
export const multiplicativeSchema = residualAddSchema;

/**
 * Point-wise multiplicative composition: `result = input ⊙ (1 + SD(adapter(input)))`, the adapter
 * acting as a learned gate around 1. With the linear adapter's zero-initialised output layer it is
 * the identity at initialisation.
 *
 * Stochastic depth drops the adapter's output (the gate becomes 1, the identity) and scales a kept
 * one by `1/(1 − p)`, as `residualAdd` does. The L2 auxiliary loss is taken on the adapter's output
 * (the gate's distance from 1), so it pulls the adapter towards the identity whatever the input's
 * scale.
 *
 * NeMo note: NeMo names point-wise multiplication as a composition function but ships no strategy
 * for it; this one has the library's own `_target_` (`adapterkit.strategies.MultiplicativeAdapterStrategy`).
 *
 * @example
 * ```ts
 * model.addAdapter('gate', {
 *   type: 'linear', inFeatures: 64, dim: 8, location: 'ffnOutput',
 *   adapterStrategy: { type: 'multiplicative' },
 * });
 * ```
 */
export class MultiplicativeStrategy extends ResidualAddStrategy {
  override forward(input: AdapterInput, adapter: Module, ctx: { module: Module }): AdapterInput {
    if (!(input instanceof tf.Tensor)) {
      throw new AdapterError(
        'INVALID_INPUT',
        `multiplicative expects a tensor input, got ${describeValue(input)}; it composes adapters that map a tensor to a tensor of the same shape (such as 'linear')`,
      );
    }
    return tf.tidy(() => this.combine(input, adapter.forward(input) as Tensor, adapter, ctx.module));
  }

  /** `base ⊙ (1 + SD(out))`, registering the L2 loss of `SD(out)` when training. */
  protected override combine(base: Tensor, out: Tensor, adapter: Module, host: Module): Tensor {
    const gate = this.applyStochasticDepth(out, adapter, host);
    const result = tf.mul(base, tf.add(gate, 1));
    this.computeAuxiliaryLoss(gate, adapter, host);
    return result;
  }
}

/**
 * `multiplicative` over a batch whose rows ran different adapters: `input ⊙ (1 + outputs)` for every
 * row (a base row's zero output leaves it unchanged). Not while training with stochastic depth or an
 * L2 loss: those draw and register per call.
 */
export const multiplicativeRowwise: RowwiseStrategyKind<MultiplicativeStrategy> = {
  combine: (strategy, host) =>
    host.training && (strategy.stochasticDepth > 0 || strategy.l2Lambda > 0)
      ? null
      : (input, outputs) => tf.mul(input, tf.add(outputs, 1)),
};
