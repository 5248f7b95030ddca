import { tf, type Tensor } from '../../backend/tf.js';
import { AdapterError, describeValue, isPlainObject } from '../../errors.js';
import { activationFn, type Activation } from '../../nn/activations.js';
import { Dropout, Linear } from '../../nn/layers.js';
import { getRng } from '../../rng.js';
import { AdapterModule, type AdapterModuleOptions } from '../adapter-module.js';
import { parseAdapterOptions } from '../config-schema.js';
import type { StrategyConfig } from '../types.js';
import { PARALLEL_DEFAULT_STRATEGY, parallelAdapterSchema, type ParallelAdapterFields } from './config.js';

/** Options of {@link ParallelAdapter}. */
/** Constructor options: the `parallel` config's fields (see {@link parallelAdapterSchema}), the strategy and the random source. */
export type ParallelAdapterOptions = AdapterModuleOptions & ParallelAdapterFields;

/**
 * The parallel bottleneck adapter, and with `scaling: 4` the scaled parallel adapter, of
 * He, Zhou, Ma, Berg-Kirkpatrick and Neubig, "Towards a Unified View of Parameter-Efficient Transfer
 * Learning", ICLR 2022 (arXiv:2110.04366, 2021).
 *
 * It computes `s · up(dropout(act(down(h))))` from the same input `h` as the sublayer it runs
 * beside, and its output is added to that sublayer's output. In the library's transformer blocks
 * (attention hosts, SPEC §2.7) it runs beside the feed-forward network, as in the paper's best
 * configuration: the host keeps the FFN input `h` (the `'mha'` point's `x`) and at `'post'` adds the
 * branch, so a block computes `h_post = h + FFN(LN(h)) + s·A(h)` (then any adapters after it in
 * execution order). `adapterLocations(name)` reports `['mha', 'post']`.
 * Limitation: in a decoder block with cross-attention, the `'mha'` point comes before the
 * cross-attention, so the branch reads the self-attention output rather than the FFN input.
 *
 * Layers (state keys): `down.weight [dim, in]`, `down.bias [dim]`, `up.weight [in, dim]`,
 * `up.bias [in]`. Init as the paper's code (`init_option = "lora"`): `down.weight` PyTorch's default
 * U(±1/√in), `down.bias`, `up.weight` and `up.bias` zero, so the branch is exactly 0 at
 * initialisation and the block's output is unchanged. Parameter count `2·in·dim + in + dim`.
 *
 * Strategy: `mhaResidualAdd` (default; `stochasticDepth`, `l2Lambda` act on the branch): the host
 * passes `{value: h_post, x: h}`, the residual base is `value` and the adapter reads `x`. A
 * `residualAdd` or `returnResult` config is rejected: the branch input is not the tensor it is added to.
 *
 * Called directly, `forward(h)` (or `forward({x: h})`) returns the branch `s·A(h)`. Transformer
 * attention hosts accept the type by default; a host without the two insertion points has no
 * sublayer input to give it, so its strategy call fails with `INVALID_INPUT`.
 *
 * @example
 * ```ts
 * lm.addAdapter('pa', { type: 'parallel', inFeatures: 256, dim: 64, scaling: 4 }); // scaled PA
 * ```
 */
export class ParallelAdapter extends AdapterModule {
  static override readonly typeName: string = 'ParallelAdapter';
  static override readonly defaultStrategy: StrategyConfig = { ...PARALLEL_DEFAULT_STRATEGY };
  readonly inFeatures: number;
  readonly dim: number;
  readonly activation: Activation;
  readonly scaling: number;
  readonly down: Linear;
  readonly up: Linear;
  readonly dropout: Dropout | null;
  private readonly act: (x: Tensor) => Tensor;

  constructor(options: ParallelAdapterOptions) {
    super(options);
    const { adapterStrategy } = options;
    const cfg = parseAdapterOptions(parallelAdapterSchema, 'parallel', options, 'ParallelAdapter');
    if (
      isPlainObject(adapterStrategy) &&
      (adapterStrategy as StrategyConfig).type !== PARALLEL_DEFAULT_STRATEGY.type
    ) {
      throw new AdapterError(
        'INVALID_CONFIG',
        `ParallelAdapter: adapterStrategy type ${JSON.stringify((adapterStrategy as StrategyConfig).type)} cannot combine a parallel branch; ` +
          `the branch reads the FFN input but is added to the block output, so use {type: 'mhaResidualAdd'} (same options: stochasticDepth, l2Lambda)`,
        { field: 'adapterStrategy', valid: [PARALLEL_DEFAULT_STRATEGY.type] },
      );
    }
    this.inFeatures = cfg.inFeatures;
    this.dim = cfg.dim;
    this.activation = cfg.activation;
    this.scaling = cfg.scaling;
    this.act = activationFn(this.activation);
    const rng = options.rng ?? getRng();
    this.down = this.registerModule(
      'down',
      new Linear({ inFeatures: this.inFeatures, outFeatures: this.dim, rng }),
    );
    this.up = this.registerModule(
      'up',
      new Linear({ inFeatures: this.dim, outFeatures: this.inFeatures, rng }),
    );
    tf.tidy(() => {
      this.down.bias!.assign(tf.zerosLike(this.down.bias!));
      this.up.weight.assign(tf.zerosLike(this.up.weight));
      this.up.bias!.assign(tf.zerosLike(this.up.bias!));
    });
    const p = cfg.dropout;
    this.dropout = p > 0 ? this.registerModule('dropout', new Dropout({ p, rng: options.rng })) : null;
    this.setupAdapterStrategy(adapterStrategy);
  }

  /** `s · up(dropout(act(down(h))))` for `h` given as a tensor or as `{x: h}` (what the host's strategy passes). */
  override forward(input: Tensor | { x: Tensor }): Tensor {
    const x =
      input instanceof tf.Tensor ? input : isPlainObject(input) ? (input as { x?: unknown }).x : undefined;
    if (!(x instanceof tf.Tensor)) {
      throw new AdapterError(
        'INVALID_INPUT',
        `ParallelAdapter expects the sublayer input as a tensor or as {x: tensor}, got ${describeValue(input)}`,
      );
    }
    return tf.tidy(() => {
      let h = this.act(this.down.forward(x));
      if (this.dropout) h = this.dropout.forward(h);
      return tf.mul(this.up.forward(h), this.scaling);
    });
  }
}
