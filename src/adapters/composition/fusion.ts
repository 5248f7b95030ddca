/**
 * The AdapterFusion layer (AdapterHub's `BertFusion`, Pfeiffer et al. 2021): attends over the outputs
 * of several adapters at one host, per position.
 *
 * With `u_i` the children's outputs before their strategies, query `x` and residual `x`:
 * `q = W_q x + b_q`, `k_i = W_k u_i + b_k`, `v_i = W_v u_i`, `p = softmax_i(q · k_i / T)`,
 * output `Σ p_i v_i + x`. Each projection is optional (identity when off).
 */
import { z } from 'zod';
import { tf, type Tensor } from '../../backend/tf.js';
import { AdapterError } from '../../errors.js';
import { normal } from '../../nn/init.js';
import { Linear } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { getRng, type Rng } from '../../rng.js';
import { getAccessContext, registerAccessibleTensor } from '../access.js';
import { modelGuidOf } from '../model-guid.js';

/** AdapterHub's `AdapterFusionConfig` fields, in camelCase. */
export interface FusionConfig {
  key: boolean;
  query: boolean;
  value: boolean;
  /** Accepted for AdapterHub compatibility; the library's hosts have no layer norm before the adapters, so the query is `x` either way. */
  queryBeforeLn: boolean;
  /** Register `0.01 · Σ (I − W_v)²` as an auxiliary loss in training (needs `value`). */
  regularization: boolean;
  /** Add the residual to the children's outputs before the attention instead of after it. */
  residualBefore: boolean;
  /** Start the softmax temperature at 50 and lower it by 0.05 per training forward down to 1. */
  temperature: boolean;
  /** Apply `W_v` to each child's output (true) or to the attended sum (false). */
  valueBeforeSoftmax: boolean;
  /** Initialise `W_v` to the identity (off-diagonal 1e-6) instead of N(0, 0.02²). */
  valueInitialized: boolean;
  /** Dropout on the attention scores in training; null = 0. */
  dropoutProb: number | null;
}

/** AdapterHub's presets: `dynamic` (the default) and `static` (no value matrix, no regularisation). */
export const FUSION_PRESETS: Readonly<Record<'dynamic' | 'static', Readonly<FusionConfig>>> = Object.freeze({
  dynamic: Object.freeze({
    key: true,
    query: true,
    value: true,
    queryBeforeLn: false,
    regularization: true,
    residualBefore: false,
    temperature: false,
    valueBeforeSoftmax: true,
    valueInitialized: true,
    dropoutProb: null,
  }),
  static: Object.freeze({
    key: true,
    query: true,
    value: false,
    queryBeforeLn: false,
    regularization: false,
    residualBefore: false,
    temperature: false,
    valueBeforeSoftmax: true,
    valueInitialized: false,
    dropoutProb: null,
  }),
});

const fusionConfigSchema = z.strictObject({
  key: z.boolean().optional(),
  query: z.boolean().optional(),
  value: z.boolean().optional(),
  queryBeforeLn: z.boolean().optional(),
  regularization: z.boolean().optional(),
  residualBefore: z.boolean().optional(),
  temperature: z.boolean().optional(),
  valueBeforeSoftmax: z.boolean().optional(),
  // AdapterHub types it `str` but uses it as a flag.
  valueInitialized: z.union([z.boolean(), z.string()]).optional(),
  dropoutProb: z.number().min(0).max(1).lt(1).nullable().optional(),
});

/** What `addFusion` accepts: a preset name or config fields (missing ones taken from `dynamic`). */
export type FusionConfigInput = 'dynamic' | 'static' | Partial<FusionConfig>;

/**
 * Normalises a fusion config: a preset name, or fields over the `dynamic` preset. Unknown fields or
 * wrong kinds → `INVALID_CONFIG` naming each field and listing the valid ones.
 */
export function parseFusionConfig(cfg: unknown, where: string): FusionConfig {
  if (cfg === undefined || cfg === null) return { ...FUSION_PRESETS.dynamic };
  if (typeof cfg === 'string') {
    const preset = FUSION_PRESETS[cfg as 'dynamic'];
    if (!preset || !Object.hasOwn(FUSION_PRESETS, cfg)) {
      throw new AdapterError(
        'INVALID_CONFIG',
        `${where}: fusion config ${JSON.stringify(cfg)} is not one of: dynamic, static`,
        {
          valid: ['dynamic', 'static'],
        },
      );
    }
    return { ...preset };
  }
  const r = fusionConfigSchema.safeParse(cfg);
  if (!r.success) {
    const valid = Object.keys(FUSION_PRESETS.dynamic);
    const issues = r.error.issues.map((i) =>
      i.code === 'unrecognized_keys'
        ? `unknown field(s) ${i.keys.join(', ')}`
        : `${i.path.join('.') || 'config'}: ${i.message}`,
    );
    throw new AdapterError(
      'INVALID_CONFIG',
      `${where}: invalid fusion config (${issues.join('; ')}); fields: ${valid.join(', ')}`,
      {
        valid,
      },
    );
  }
  const merged = { ...FUSION_PRESETS.dynamic, ...r.data };
  return {
    ...merged,
    valueInitialized: Boolean(merged.valueInitialized),
    dropoutProb: merged.dropoutProb ?? null,
  };
}

/** Options of {@link AdapterFusion}. */
export interface AdapterFusionOptions {
  /** Width of the host's output (the children's `inFeatures`). */
  features: number;
  config: FusionConfig;
  rng?: Rng;
}

/** AdapterHub's `init_bert_weights`: weight N(0, 0.02²), bias 0. */
function bertInit(lin: Linear, rng: Rng): void {
  lin.weight.assign(normal(lin.weight.shape, 0.02, rng));
  lin.bias?.assign(tf.zerosLike(lin.bias));
}

/**
 * One AdapterFusion layer. State keys: `query.weight [D, D]`, `query.bias [D]`, `key.weight`,
 * `key.bias`, `value.weight [D, D]` (no bias), each present when its flag is on.
 *
 * @example
 * ```ts
 * const f = new AdapterFusion({ features: 16, config: parseFusionConfig('dynamic', 'example') });
 * const y = f.fuse(x, [u0, u1]); // x, u_i: [..., 16]
 * ```
 */
export class AdapterFusion extends Module {
  static override readonly typeName: string = 'AdapterFusion';
  readonly features: number;
  readonly config: Readonly<FusionConfig>;
  /** Current softmax temperature. */
  temperatureValue: number;
  private readonly reduction: number;
  private readonly rng: Rng;

  constructor(options: AdapterFusionOptions) {
    super();
    const { features, config } = options;
    this.features = features;
    this.config = Object.freeze({ ...config });
    this.rng = options.rng ?? getRng();
    const make = (name: 'query' | 'key' | 'value', bias: boolean) => {
      const lin = this.registerModule(
        name,
        new Linear({ inFeatures: features, outFeatures: features, bias, rng: this.rng }),
      );
      bertInit(lin, this.rng);
      return lin;
    };
    if (config.query) make('query', true);
    if (config.key) make('key', true);
    if (config.value) {
      const v = make('value', false);
      if (config.valueInitialized) {
        v.weight.assign(tf.tidy(() => tf.add(tf.mul(tf.eye(features), 1 - 1e-6), 1e-6)));
      }
    }
    this.temperatureValue = config.temperature ? 50 : 1;
    this.reduction = this.temperatureValue / 1000;
  }

  private proj(name: 'query' | 'key' | 'value', x: Tensor): Tensor {
    const m = this.getChild(name);
    return m ? (m.forward(x) as Tensor) : x;
  }

  /**
   * Fuses `ups` (the children's outputs before their strategies, each shaped like `query`) with
   * `query` as the attention query and `residual` (default `query`) as the residual. In training with
   * `regularization` and a value matrix, registers the regularisation term as `adapter_loss`.
   */
  fuse(query: Tensor, ups: readonly Tensor[], residual: Tensor = query): Tensor {
    const c = this.config;
    const out = tf.tidy(() => {
      let values = tf.stack(ups as Tensor[], -2); // [..., n, D]
      // AdapterHub adds the residual in place to the tensor it also uses as the key.
      if (c.residualBefore) values = tf.add(values, tf.expandDims(residual, -2));
      const q = this.proj('query', query);
      const k = this.proj('key', values);
      const v = c.value && c.valueBeforeSoftmax ? this.proj('value', values) : values;
      let scores = tf.sum(tf.mul(tf.expandDims(q, -2), k), -1); // [..., n]
      const p = c.dropoutProb ?? 0;
      if (this.training && p > 0) {
        scores = tf.dropout(scores, p, undefined, Math.floor(this.rng.next() * 2 ** 31));
      }
      const probs = tf.softmax(tf.div(scores, this.temperatureValue));
      let context = tf.sum(tf.mul(tf.expandDims(probs, -1), v), -2);
      if (c.value && !c.valueBeforeSoftmax) context = this.proj('value', context);
      if (!c.residualBefore) context = tf.add(context, residual);
      return context;
    });
    if (this.training && c.temperature)
      this.temperatureValue = Math.max(this.temperatureValue - this.reduction, 1);
    if (this.training) this.registerRegularization();
    return out;
  }

  /** AdapterHub's `get_fusion_regularization_loss` for this layer: `0.01 · Σ (I − W_v)²`, or null without a value matrix. */
  regularizationLoss(): Tensor | null {
    const v = this.getChild('value') as Linear | undefined;
    if (!v) return null;
    return tf.tidy(() => tf.mul(0.01, tf.sum(tf.square(tf.sub(tf.eye(this.features), v.weight)))));
  }

  private registerRegularization(): void {
    if (!this.config.regularization || !this.parameters().some((p) => p.trainable)) return;
    const ctx = getAccessContext();
    if (!ctx.option(modelGuidOf(this), 'computeAdapterLoss')) return;
    const loss = this.regularizationLoss();
    if (!loss) return;
    ctx.setEnabled(true, modelGuidOf(this));
    registerAccessibleTensor(this, 'adapter_loss', loss);
  }

  override forward(): never {
    throw new AdapterError(
      'INVALID_INPUT',
      'AdapterFusion runs through a Fuse setup (model.setActiveSetup(Fuse(...))) or fuse(query, ups)',
    );
  }
}
