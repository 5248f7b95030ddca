import { tf, type Tensor, type Variable } from '../../backend/tf.js';
import { AdapterError, check, describeValue } from '../../errors.js';
import { fmtShape } from '../../nn/module.js';
import { AdapterModule, type AdapterModuleOptions } from '../adapter-module.js';
import { parseAdapterOptions } from '../config-schema.js';
import type { StrategyConfig } from '../types.js';
import { INFUSED_DEFAULT_STRATEGY, infusedAdapterSchema, type InfusedAdapterFields } from './config.js';

/** Options of {@link InfusedAdapter}. */
/** Constructor options: the `infused` config's fields (see {@link infusedAdapterSchema}), the strategy and the random source. */
export type InfusedAdapterOptions = AdapterModuleOptions & InfusedAdapterFields;

/**
 * IA³ scaling (what NeMo calls `InfusedAdapter`, config type `infused`): `x ⊙ scalers`, broadcast over
 * the last dimension. The identity at initialisation; default strategy `returnResult`.
 *
 * NeMo note: NeMo's `MLPInfusedAdapter` variant ignores the enabled flag; here, like every adapter, it
 * runs only when enabled.
 *
 * State keys: `scalers [inFeatures]` (ones).
 *
 * @example
 * ```ts
 * const ia3 = new InfusedAdapter({ inFeatures: 64 });
 * const y = ia3.forward(x); // equals x at init
 * ```
 */
export class InfusedAdapter extends AdapterModule {
  static override readonly typeName: string = 'InfusedAdapter';
  static override readonly defaultStrategy: StrategyConfig = { ...INFUSED_DEFAULT_STRATEGY };

  readonly inFeatures: number;
  readonly scalers: Variable;

  constructor(options: InfusedAdapterOptions) {
    super(options);
    const { adapterStrategy } = options;
    const cfg = parseAdapterOptions(infusedAdapterSchema, 'infused', options, this.typeName);
    this.inFeatures = cfg.inFeatures;
    this.scalers = this.registerParameter('scalers', tf.ones([this.inFeatures]));
    this.setupAdapterStrategy(adapterStrategy);
  }

  /**
   * @param x - `[..., inFeatures]`.
   * @returns `x ⊙ scalers`, same shape.
   */
  override forward(x: Tensor): Tensor {
    if (!(x instanceof tf.Tensor)) {
      throw new AdapterError(
        'INVALID_INPUT',
        `${this.typeName}: forward expects a tensor [..., ${this.inFeatures}], got ${describeValue(x)}`,
      );
    }
    check(
      x.rank >= 1 && x.shape[x.rank - 1] === this.inFeatures,
      'INVALID_INPUT',
      () =>
        `${this.typeName}: the input's last dimension must be ${this.inFeatures}, got shape ${fmtShape(x.shape)}`,
    );
    return tf.tidy(() => tf.mul(x, this.scalers));
  }
}
