import { tf, type Tensor } from '../../backend/tf.js';
import { ActivationLayer } from '../../nn/activations.js';
import { Dropout, LayerNorm, Linear, Sequential } from '../../nn/layers.js';
import { getRng } from '../../rng.js';
import { AdapterModule, type AdapterModuleOptions } from '../adapter-module.js';
import { parseAdapterOptions } from '../config-schema.js';
import { linearAdapterSchema, type LinearAdapterFields } from './config.js';

/** Constructor options: the `linear` config's fields (see {@link linearAdapterSchema}), the strategy and the random source. */
export type LinearAdapterOptions = AdapterModuleOptions & LinearAdapterFields;

/**
 * The bottleneck adapter (what NeMo calls `LinearAdapter`): LayerNorm, down-projection, activation,
 * up-projection, no biases. Its output is exactly 0 at initialisation, so with the default
 * `residualAdd` strategy the host's output is unchanged.
 *
 * State keys, `normPosition: 'pre'`: `module.0.{weight,bias}` (LayerNorm), `module.1.weight [dim, in]`,
 * `module.3.weight [in, dim]` (zeros). `'post'`: `module.0.weight [dim, in]`, `module.2.weight [in, dim]`,
 * `module.3.{weight,bias}` (LayerNorm with γ = β = 0). Parameter count `2·in·dim + 2·in`.
 *
 * @example
 * ```ts
 * const a = new LinearAdapter({ inFeatures: 256, dim: 32 });
 * ```
 */
export class LinearAdapter extends AdapterModule {
  static override readonly typeName: string = 'LinearAdapter';
  readonly module: Sequential;
  readonly dropout: Dropout | null;

  constructor(options: LinearAdapterOptions) {
    super(options);
    const { adapterStrategy } = options;
    const cfg = parseAdapterOptions(linearAdapterSchema, 'linear', options, 'LinearAdapter');
    const inF = cfg.inFeatures;
    const dim = cfg.dim;
    const rng = options.rng ?? getRng();
    const act = new ActivationLayer({ activation: cfg.activation });
    const down = new Linear({ inFeatures: inF, outFeatures: dim, bias: false, rng });
    const up = new Linear({ inFeatures: dim, outFeatures: inF, bias: false, rng });
    const norm = new LayerNorm({ features: inF });
    if (cfg.normPosition === 'pre') {
      tf.tidy(() => up.weight.assign(tf.zerosLike(up.weight)));
      this.module = this.registerModule('module', new Sequential(norm, down, act, up));
    } else {
      // NeMo note: post-norm zero-initialises the final LayerNorm (γ = β = 0), not the up projection.
      tf.tidy(() => norm.weight.assign(tf.zerosLike(norm.weight)));
      this.module = this.registerModule('module', new Sequential(down, act, up, norm));
    }
    const p = cfg.dropout;
    this.dropout = p > 0 ? this.registerModule('dropout', new Dropout({ p, rng: options.rng })) : null;
    this.setupAdapterStrategy(adapterStrategy);
  }

  override forward(x: Tensor): Tensor {
    return tf.tidy(() => {
      const y = this.module.forward(x);
      return this.dropout ? this.dropout.forward(y) : y;
    });
  }
}
