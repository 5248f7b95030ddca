import { tf, type Tensor } from '../../backend/tf.js';
import { AdapterError, describeValue, isPlainObject } from '../../errors.js';
import type { Module } from '../../nn/module.js';
import { getRng, type Rng } from '../../rng.js';
import { getAccessContext } from '../access.js';
import { z } from 'zod';
import { configField, parseConfig } from '../config-schema.js';
import { modelGuidOf } from '../model-guid.js';
import type { RowwiseStrategyKind } from '../rowwise.js';
import type { AdapterInput, AdapterStrategy } from '../types.js';

/** Fields of `residualAdd` and `mhaResidualAdd`. */
export const residualAddSchema = z.strictObject({
  type: configField.string(),
  /** Probability of dropping the adapter's contribution in a training call. Default 0. */
  stochasticDepth: configField.probability().default(0),
  /** Weight of the L2 auxiliary loss on the adapter's contribution. Default 0. */
  l2Lambda: configField.nonNegative().default(0),
});

/** Constructor options of `residualAdd` / `mhaResidualAdd`: the config fields but `type`, plus a random source. */
export type ResidualAddOptions = Omit<z.input<typeof residualAddSchema>, 'type'> & {
  /** Random source for stochastic depth (default: the adapter's, else the library RNG). */
  rng?: Rng;
};

/**
 * `result = input + SD(adapter(input))`, then an L2 auxiliary loss on the contribution (what NeMo
 * calls `ResidualAddAdapterStrategy`).
 *
 * NeMo note: NeMo checks `stochasticDepth` only during a training forward; here an out-of-range value
 * fails when the strategy is built, in any mode.
 */
export class ResidualAddStrategy implements AdapterStrategy {
  readonly stochasticDepth: number;
  readonly l2Lambda: number;
  private readonly rng: Rng | undefined;

  constructor(options: ResidualAddOptions = {}) {
    const { rng, ...rest } = options;
    const cfg = parseConfig(residualAddSchema, { type: 'residualAdd', ...rest }, 'residualAdd strategy');
    this.stochasticDepth = cfg.stochasticDepth;
    this.l2Lambda = cfg.l2Lambda;
    this.rng = rng;
  }

  forward(input: AdapterInput, adapter: Module, ctx: { module: Module }): AdapterInput {
    if (!(input instanceof tf.Tensor)) {
      throw new AdapterError(
        'INVALID_INPUT',
        `residualAdd expects a tensor input, got ${describeValue(input)}; for attention adapters that take {query, key, value} use the 'mhaResidualAdd' strategy`,
      );
    }
    // Callers run inside tf.tidy; the registered loss is kept by the registry.
    return tf.tidy(() => this.combine(input, adapter.forward(input) as Tensor, adapter, ctx.module));
  }

  /** `base + SD(out)`, registering the L2 loss of `SD(out)` when training. */
  protected combine(base: Tensor, out: Tensor, adapter: Module, host: Module): Tensor {
    const contribution = this.applyStochasticDepth(out, adapter, host);
    const result = tf.add(base, contribution);
    this.computeAuxiliaryLoss(contribution, adapter, host);
    return result;
  }

  /** One draw per call for the whole tensor: kept → `out / (1 − p)`, dropped → 0. Training only. */
  protected applyStochasticDepth(out: Tensor, adapter: Module, host: Module): Tensor {
    const p = this.stochasticDepth;
    if (!host.training || p === 0) return out;
    const keep = 1 - p;
    const rng = this.rng ?? (adapter as { rng?: Rng }).rng ?? getRng();
    let noise = rng.next() < keep ? 1 : 0;
    if (keep > 0) noise /= keep;
    return tf.mul(out, noise);
  }

  /**
   * `l2Lambda · mean_b Σ_j out′[b, j]²`, registered as `adapter_loss` on the adapter.
   * NeMo note: NeMo tests only the adapter's first parameter for `requires_grad`; here any trainable
   * parameter counts. Access is enabled for the host's GUID so the loss reaches the model.
   */
  protected computeAuxiliaryLoss(contribution: Tensor, adapter: Module, host: Module): void {
    if (!host.training || this.l2Lambda <= 0) return;
    const registerable = adapter as Module & { registerAccessibleTensor?: (n: string, t: Tensor) => void };
    if (typeof registerable.registerAccessibleTensor !== 'function') {
      throw new AdapterError(
        'REGISTRY_UNSUPPORTED',
        `adapter ${adapter.typeName} has no auxiliary-tensor registry, so l2Lambda ${this.l2Lambda} cannot be applied; extend AdapterModule or set l2Lambda to 0`,
      );
    }
    if (!adapter.parameters().some((p) => p.trainable)) return;
    const ctx = getAccessContext();
    const guid = modelGuidOf(host);
    if (!ctx.option(guid, 'computeAdapterLoss')) return;
    ctx.setEnabled(true, guid);
    const batch = contribution.shape[0] ?? 1;
    const loss = tf.mul(tf.div(tf.sum(tf.square(contribution)), batch), this.l2Lambda);
    registerable.registerAccessibleTensor('adapter_loss', loss);
  }
}

/**
 * `residualAdd` over a batch whose rows ran different adapters (per-sample selection): the same sum
 * for every row. Not while training with stochastic depth or an L2 loss: those draw and register per
 * call, so each row group must run on its own.
 */
export const residualAddRowwise: RowwiseStrategyKind<ResidualAddStrategy> = {
  combine: (strategy, host) =>
    host.training && (strategy.stochasticDepth > 0 || strategy.l2Lambda > 0)
      ? null
      : (input, outputs) => tf.add(input, outputs),
};

/**
 * Like `residualAdd` for attention adapters taking `{query, key, value}` (or `{queries, keys,
 * values}`): `result = value + SD(adapter(input))` (what NeMo calls `MHAResidualAddAdapterStrategy`).
 */
export class MhaResidualAddStrategy extends ResidualAddStrategy {
  override forward(input: AdapterInput, adapter: Module, ctx: { module: Module }): AdapterInput {
    // Checked before the adapter runs. NeMo note: NeMo ran the adapter first.
    const base = isPlainObject(input) ? ((input.value ?? input.values) as Tensor | undefined) : undefined;
    if (!base) {
      const got = isPlainObject(input)
        ? `an object with keys [${Object.keys(input).join(', ')}]`
        : describeValue(input);
      throw new AdapterError(
        'INVALID_INPUT',
        `mhaResidualAdd expects an object with 'value' or 'values', got ${got}`,
      );
    }
    return tf.tidy(() => this.combine(base, adapter.forward(input) as Tensor, adapter, ctx.module));
  }
}
