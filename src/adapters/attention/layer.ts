/**
 * The attention adapters (SPEC §2.9.3): what NeMo calls `MultiHeadAttentionAdapter`,
 * `RelPositionMultiHeadAttentionAdapter` and `TransformerMultiHeadAttentionAdapter`. Each applies one
 * pre-norm LayerNorm to query, key and value separately, attends, and projects back through a
 * zero-initialised output linear, so its output is exactly 0 at initialisation and the default
 * `mhaResidualAdd` strategy leaves the host's output unchanged.
 */
import { tf, type Tensor, type Variable } from '../../backend/tf.js';
import { matMul, transposeLast2 } from '../../backend/kernels.js';
import { AdapterError, check, describeValue, isPlainObject } from '../../errors.js';
import { Dropout, LayerNorm, Linear } from '../../nn/layers.js';
import { fmtShape } from '../../nn/module.js';
import { getRng } from '../../rng.js';
import { AdapterModule, type AdapterModuleOptions } from '../adapter-module.js';
import { parseAdapterOptions } from '../config-schema.js';
import type { StrategyConfig } from '../types.js';
import {
  ATTENTION_DEFAULT_STRATEGY,
  multiHeadAttentionAdapterSchema,
  transformerMultiHeadAttentionAdapterSchema,
  type MultiHeadAttentionAdapterFields,
  type TransformerMultiHeadAttentionAdapterFields,
} from './config.js';

/** The score written at masked positions of the conformer attention adapters (NeMo's `-INF_VAL`). */
export const MHA_MASK_VALUE = -10000;

/**
 * The additive value the `useFusedAttention` path puts on masked logits: far enough below any real
 * score that `exp` underflows to exactly 0, as PyTorch's SDPA `-inf` does, yet finite (no NaN).
 */
const FUSED_MASK_VALUE = -1e9;

/** Projected width `P` and head size `dk` of an attention adapter. */
export interface AttentionDims {
  /** Projected width P (`nHead · dk`). */
  projDim: number;
  /** Head size. */
  dk: number;
}

/**
 * Resolves `projDim` as NeMo does: `null` → P = width, `dk = width / heads`; `< 1` → P = heads,
 * `dk = 1`; `≥ 1` → P = projDim, `dk = projDim / heads`. The width must be divisible by the head
 * count whatever `projDim` is (NeMo's attention base class asserts it), and P must be too. Every
 * violated rule is reported in one `INVALID_CONFIG`, e.g. "projDim (4) is not divisible by nHead (3)".
 *
 * @param o - The head count and width with the field names used in messages.
 * @returns P and `dk`.
 */
export function resolveAttentionDims(o: {
  heads: number;
  width: number;
  projDim: number | null;
  where: string;
  headsName: string;
  widthName: string;
}): AttentionDims {
  const problems: string[] = [];
  if (o.width % o.heads !== 0) {
    problems.push(`${o.widthName} (${o.width}) is not divisible by ${o.headsName} (${o.heads})`);
  }
  // NeMo note: a projDim below 1 (0 or −1) means "one feature per head" (P = number of heads).
  const p = o.projDim === null ? null : o.projDim < 1 ? o.heads : o.projDim;
  if (p !== null && p % o.heads !== 0) {
    problems.push(`projDim (${o.projDim}) is not divisible by ${o.headsName} (${o.heads})`);
  }
  if (problems.length) {
    throw new AdapterError('INVALID_CONFIG', `${o.where}: ${problems.join('; ')}`, {
      [o.headsName]: o.heads,
      [o.widthName]: o.width,
      projDim: o.projDim,
    });
  }
  const projDim = p ?? o.width;
  return { projDim, dk: projDim / o.heads };
}

/** Assigns zeros to a linear's weight and bias (NeMo's `nn.init.zeros_`). */
function zeroLinear(l: Linear): void {
  tf.tidy(() => {
    l.weight.assign(tf.zerosLike(l.weight));
    if (l.bias) l.bias.assign(tf.zerosLike(l.bias));
  });
}

/** `[B, T, H·dk]` → `[B, H, T, dk]`. */
function splitHeads(x: Tensor, heads: number, dk: number): Tensor {
  const [b, t] = x.shape as [number, number, number];
  return tf.transpose(tf.reshape(x, [b, t, heads, dk]), [0, 2, 1, 3]);
}

/** `[B, H, T, dk]` → `[B, T, H·dk]`. */
function mergeHeads(x: Tensor): Tensor {
  const [b, h, t, dk] = x.shape as [number, number, number, number];
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b, t, h * dk]);
}

/**
 * Transformer-XL's relative shift (NeMo's `rel_shift`) of `x [b, h, t1, p]`: left-pad one zero
 * column → `[b, h, t1, p+1]`, view as `[b, h, p+1, t1]`, drop the first row, view back as
 * `[b, h, t1, p]`. Built from pad, reshape and `tf.slice` (which, unlike `stridedSlice`, has a
 * gradient).
 */
export function relShift(x: Tensor): Tensor {
  return tf.tidy(() => {
    const [b, h, t1, p] = x.shape as [number, number, number, number];
    const padded = tf.pad(x, [
      [0, 0],
      [0, 0],
      [0, 0],
      [1, 0],
    ]);
    const viewed = tf.reshape(padded, [b, h, p + 1, t1]);
    const dropped = tf.slice(viewed, [0, 0, 1, 0], [b, h, p, t1]);
    return tf.reshape(dropped, [b, h, t1, p]);
  });
}

/**
 * A boolean (or numeric, nonzero = masked) mask `[B|1, T1|1, T2|1]`, true = masked, as float32 `[·, 1, ·, ·]` holding 1 at
 * masked positions. The mask is input data: it is converted once, outside any parameter's gradient
 * path, and only multiplied/added afterwards.
 */
function maskToFloat(mask: Tensor): Tensor {
  return tf.tidy(() => {
    const f = mask.dtype === 'bool' ? tf.cast(mask, 'float32') : tf.cast(tf.notEqual(mask, 0), 'float32');
    return tf.expandDims(f, 1);
  });
}

function requireTensor(v: unknown, name: string, where: string): asserts v is Tensor {
  check(
    v instanceof tf.Tensor,
    'INVALID_INPUT',
    () => `${where}: '${name}' must be a tensor, got ${describeValue(v)}`,
  );
}

function requireFeatures(t: Tensor, name: string, width: number, where: string): void {
  check(
    t.rank === 3 && t.shape[2] === width,
    'INVALID_INPUT',
    () => `${where}: '${name}' must have shape [B, T, ${width}], got ${fmtShape(t.shape)}`,
  );
}

function checkNamedInput(
  input: unknown,
  allowed: readonly string[],
  where: string,
  example: string,
): Record<string, unknown> {
  if (!isPlainObject(input)) {
    throw new AdapterError(
      'INVALID_INPUT',
      `${where}: forward takes one named-argument object ${example}, got ${describeValue(input)}`,
    );
  }
  const unknown = Object.keys(input).filter((k) => !allowed.includes(k));
  check(
    unknown.length === 0,
    'INVALID_INPUT',
    () =>
      `${where}: unknown input key(s) ${unknown.map((k) => `'${k}'`).join(', ')}; accepted keys: ${allowed.join(', ')}`,
    () => ({ keys: unknown, valid: [...allowed] }),
  );
  return input;
}

/**
 * Options of {@link MultiHeadAttentionAdapter} and {@link RelPositionMultiHeadAttentionAdapter}: the
 * config's fields (see {@link multiHeadAttentionAdapterSchema}), the strategy and the random source.
 */
export type MultiHeadAttentionAdapterOptions = AdapterModuleOptions & MultiHeadAttentionAdapterFields;

/** The named arguments of the conformer attention adapters' forward. */
export interface MultiHeadAttentionAdapterInput {
  /** `[B, T1, nFeat]`. */
  query: Tensor;
  /** `[B, T2, nFeat]`. */
  key: Tensor;
  /** `[B, T2, nFeat]` (also the residual base of `mhaResidualAdd`). */
  value: Tensor;
  /**
   * Boolean `[B, T1, T2]`, **true = masked** (any dimension may be 1 to broadcast, as in NeMo). A numeric
   * mask is read as nonzero = masked.
   */
  mask?: Tensor | null;
  /**
   * `[1 or B, 2·T−1, nFeat]` relative positional embedding (from `relPositionalEncoding`); required by
   * the relative-position adapter, accepted and ignored by the plain one (as NeMo's forward does).
   */
  posEmb?: Tensor | null;
  /**
   * Streaming cache. Only `undefined`/`null` is accepted: NeMo builds its adapters with
   * `max_cache_len = 0` and never sets `cache_drop_size`, so a cache cannot be used there either.
   */
  cache?: Tensor | null;
}

const MHA_INPUT_KEYS = ['query', 'key', 'value', 'mask', 'posEmb', 'cache'] as const;

interface CheckedMhaInput {
  query: Tensor;
  key: Tensor;
  value: Tensor;
  mask: Tensor | null;
  posEmb: Tensor | null;
}

/**
 * Multi-head attention adapter (what NeMo calls `MultiHeadAttentionAdapter`, config type
 * `multiHeadAttention`).
 *
 * Forward, with `{query, key, value, mask?}` (`[B, T, nFeat]`, boolean mask `[B, T1, T2]`, true = masked):
 * `Q, K, V` = `linear_q|k|v(pre_norm(·))` split into `nHead` heads of size `dk`; `S = Q·Kᵀ/√dk`;
 * with a mask, masked scores are set to −10000, `A = softmax(S)`, masked probabilities set to 0
 * (so a fully masked query row outputs `linear_out.bias` only); `A = Dropout(dropoutRate)(A)`;
 * output `linear_out(concat_heads(A·V))` → `[B, T1, nFeat]`.
 *
 * `useFusedAttention`: TensorFlow.js has no fused attention kernel, so instead of NeMo's call into
 * PyTorch's `scaled_dot_product_attention` the flag selects an alternative formulation with SDPA's
 * semantics (what NeMo's `use_pytorch_sdpa` runs): the `1/√dk` scale is folded into `Q` before the
 * product, masked logits get an additive −1e9 (probabilities underflow to exactly 0, like SDPA's
 * `-inf`), and fully masked query rows are zeroed at the context instead of zeroing probabilities.
 * It agrees with the default path within 1e-5; it is not faster. The flag can be changed on a built
 * adapter (`adapter.useFusedAttention = true`).
 *
 * State keys (P = projected width): `pre_norm.weight [nFeat]` (γ = 1), `pre_norm.bias [nFeat]` (β = 0),
 * `linear_q|linear_k|linear_v.weight [P, nFeat]`, `.bias [P]` (default init),
 * `linear_out.weight [nFeat, P]`, `linear_out.bias [nFeat]` (zeros).
 *
 * @example
 * ```ts
 * const mha = new MultiHeadAttentionAdapter({ nHead: 4, nFeat: 64 });
 * const y = mha.forward({ query: x, key: x, value: x, mask }); // [B, T, 64], zeros at init
 * ```
 */
export class MultiHeadAttentionAdapter extends AdapterModule {
  static override readonly typeName: string = 'MultiHeadAttentionAdapter';
  static override readonly defaultStrategy: StrategyConfig = { ...ATTENTION_DEFAULT_STRATEGY };

  /** Number of heads. */
  readonly nHead: number;
  /** Model width. */
  readonly nFeat: number;
  /** Projected width P (`nHead · dk`), after resolving the `projDim` option. */
  readonly projDim: number;
  /** Head size. */
  readonly dk: number;
  /** Dropout probability on the attention probabilities. */
  readonly dropoutRate: number;
  /** Selects the alternative SDPA-semantics path (see the class TSDoc); may be changed at any time. */
  useFusedAttention: boolean;

  readonly linearQ: Linear;
  readonly linearK: Linear;
  readonly linearV: Linear;
  readonly linearOut: Linear;
  readonly dropout: Dropout;
  readonly preNorm: LayerNorm;

  constructor(options: MultiHeadAttentionAdapterOptions) {
    super(options);
    const { adapterStrategy } = options;
    const cfg = parseAdapterOptions(
      multiHeadAttentionAdapterSchema,
      'multiHeadAttention',
      options,
      this.typeName,
    );
    this.nHead = cfg.nHead;
    this.nFeat = cfg.nFeat;
    this.dropoutRate = cfg.dropoutRate;
    this.useFusedAttention = cfg.useFusedAttention;
    const dims = resolveAttentionDims({
      heads: this.nHead,
      width: this.nFeat,
      projDim: cfg.projDim,
      where: this.typeName,
      headsName: 'nHead',
      widthName: 'nFeat',
    });
    this.projDim = dims.projDim;
    this.dk = dims.dk;
    const rng = options.rng ?? getRng();
    const P = this.projDim;
    this.linearQ = this.registerModule(
      'linear_q',
      new Linear({ inFeatures: this.nFeat, outFeatures: P, rng }),
    );
    this.linearK = this.registerModule(
      'linear_k',
      new Linear({ inFeatures: this.nFeat, outFeatures: P, rng }),
    );
    this.linearV = this.registerModule(
      'linear_v',
      new Linear({ inFeatures: this.nFeat, outFeatures: P, rng }),
    );
    this.linearOut = this.registerModule(
      'linear_out',
      new Linear({ inFeatures: P, outFeatures: this.nFeat, rng }),
    );
    // Zero output projection: the adapter's output is exactly 0 at initialisation.
    zeroLinear(this.linearOut);
    this.dropout = this.registerModule('dropout', new Dropout({ p: this.dropoutRate, rng: options.rng }));
    this.preNorm = this.registerModule('pre_norm', new LayerNorm({ features: this.nFeat }));
    this.setupAdapterStrategy(adapterStrategy);
  }

  /**
   * Attends `query` over `key`/`value` (see the class TSDoc). Runs inside `tf.tidy`.
   *
   * @param input - One named-argument object `{query, key, value, mask?, posEmb?, cache?}`.
   * @returns `[B, T1, nFeat]`.
   * @throws AdapterError `INVALID_INPUT` for a missing or mis-shaped tensor, an unknown key or a cache.
   */
  override forward(input: MultiHeadAttentionAdapterInput): Tensor {
    const args = this.checkInput(input);
    return tf.tidy(() => {
      const q = splitHeads(this.linearQ.forward(this.preNorm.forward(args.query)), this.nHead, this.dk);
      const k = splitHeads(this.linearK.forward(this.preNorm.forward(args.key)), this.nHead, this.dk);
      const v = splitHeads(this.linearV.forward(this.preNorm.forward(args.value)), this.nHead, this.dk);
      const maskF = args.mask ? maskToFloat(args.mask) : null;
      const context = this.useFusedAttention
        ? this.fusedContext(this.fusedLogits(q, k, args), v, maskF)
        : this.referenceContext(this.referenceScores(q, k, args), v, maskF);
      return this.linearOut.forward(mergeHeads(context));
    });
  }

  /** `S = Q·Kᵀ/√dk`, `[B, H, T1, T2]`. Overridden by the relative-position variant. */
  protected referenceScores(q: Tensor, k: Tensor, _args: CheckedMhaInput): Tensor {
    return tf.div(matMul(q, transposeLast2(k)), Math.sqrt(this.dk));
  }

  /** `(Q/√dk)·Kᵀ`, the fused path's logits before masking. Overridden by the relative-position variant. */
  protected fusedLogits(q: Tensor, k: Tensor, _args: CheckedMhaInput): Tensor {
    return matMul(tf.mul(q, 1 / Math.sqrt(this.dk)), transposeLast2(k));
  }

  /**
   * NeMo's `forward_attention`: masked scores → −10000, softmax, masked probabilities → 0, dropout,
   * `A·V`. The fills are written as `S·(1 − m) + m·(−10000)` and `A·(1 − m)` with the float mask `m`.
   */
  protected referenceContext(scores: Tensor, v: Tensor, maskF: Tensor | null): Tensor {
    let attn: Tensor;
    if (maskF) {
      const keep = tf.sub(1, maskF);
      const filled = tf.add(tf.mul(scores, keep), tf.mul(maskF, MHA_MASK_VALUE));
      attn = tf.mul(tf.softmax(filled), keep);
    } else {
      attn = tf.softmax(scores);
    }
    return matMul(this.dropout.forward(attn), v);
  }

  /** SDPA semantics: additive −1e9 on masked logits, softmax, dropout, `A·V`, fully masked rows → 0. */
  protected fusedContext(logits: Tensor, v: Tensor, maskF: Tensor | null): Tensor {
    const masked = maskF ? tf.add(logits, tf.mul(maskF, FUSED_MASK_VALUE)) : logits;
    const context = matMul(this.dropout.forward(tf.softmax(masked)), v);
    if (!maskF) return context;
    // 1 for query rows with at least one visible key, 0 for fully masked rows: [B|1, 1, T1, 1].
    const rowVisible = tf.sub(1, tf.min(maskF, -1, true));
    return tf.mul(context, rowVisible);
  }

  /** Validates the named arguments; shared by both conformer variants. */
  protected checkInput(input: unknown): CheckedMhaInput {
    const where = this.typeName;
    const o = checkNamedInput(input, MHA_INPUT_KEYS, where, '{query, key, value, mask?, posEmb?}');
    for (const name of ['query', 'key', 'value'] as const) {
      requireTensor(o[name], name, where);
      requireFeatures(o[name], name, this.nFeat, where);
    }
    const query = o.query as Tensor;
    const key = o.key as Tensor;
    const value = o.value as Tensor;
    const b = query.shape[0]!;
    check(
      key.shape[0] === b && value.shape[0] === b && key.shape[1] === value.shape[1],
      'INVALID_INPUT',
      () =>
        `${where}: query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)} and value ${fmtShape(value.shape)} must share the batch size, and key and value the length`,
    );
    check(
      o.cache === undefined || o.cache === null,
      'INVALID_INPUT',
      () =>
        `${where}: a streaming cache is not supported by attention adapters (NeMo builds them with max_cache_len = 0); pass cache: undefined`,
    );
    let mask: Tensor | null = null;
    if (o.mask !== undefined && o.mask !== null) {
      requireTensor(o.mask, 'mask', where);
      mask = o.mask;
      const want = [b, query.shape[1]!, key.shape[1]!];
      check(
        mask.rank === 3 && mask.shape.every((d, i) => d === want[i] || d === 1),
        'INVALID_INPUT',
        () =>
          `${where}: 'mask' must have shape [${want.join(', ')}] (true = masked; a dimension may be 1 to broadcast), got ${fmtShape(mask!.shape)}`,
      );
    }
    let posEmb: Tensor | null = null;
    if (o.posEmb !== undefined && o.posEmb !== null) {
      requireTensor(o.posEmb, 'posEmb', where);
      posEmb = o.posEmb;
    }
    return { query, key, value, mask, posEmb };
  }
}

/** Options of {@link RelPositionMultiHeadAttentionAdapter} (the same as the plain adapter's). */
export type RelPositionMultiHeadAttentionAdapterOptions = MultiHeadAttentionAdapterOptions;

/**
 * Multi-head attention with Transformer-XL relative positions (what NeMo calls
 * `RelPositionMultiHeadAttentionAdapter`, config type `relPositionMultiHeadAttention`).
 *
 * Forward additionally takes `posEmb [1 or B, 2T−1, nFeat]` (from `relPositionalEncoding`):
 * `Pp = linear_pos(posEmb)` split into heads; `AC = (Q + pos_bias_u)·Kᵀ`;
 * `BD = relShift((Q + pos_bias_v)·Ppᵀ)[…, :T2]`; `S = (AC + BD)/√dk`; then masking, softmax, dropout,
 * `A·V` and `linear_out` as in {@link MultiHeadAttentionAdapter}. With `useFusedAttention`, the SDPA
 * formulation NeMo uses: logits `((Q + pos_bias_u)/√dk)·Kᵀ + BD/√dk` with the same masking as the
 * plain adapter's fused path.
 *
 * State keys: `pos_bias_u [nHead, dk]`, `pos_bias_v [nHead, dk]` (zeros), those of
 * {@link MultiHeadAttentionAdapter}, and `linear_pos.weight [P, nFeat]` (no bias, default init).
 *
 * @example
 * ```ts
 * const pe = new RelPositionalEncodingAdapter({ dModel: 64 });
 * const [xs, posEmb] = pe.forward(x);
 * const y = new RelPositionMultiHeadAttentionAdapter({ nHead: 4, nFeat: 64 }).forward({ query: xs, key: xs, value: xs, posEmb });
 * ```
 */
export class RelPositionMultiHeadAttentionAdapter extends MultiHeadAttentionAdapter {
  static override readonly typeName: string = 'RelPositionMultiHeadAttentionAdapter';

  readonly linearPos: Linear;
  readonly posBiasU: Variable;
  readonly posBiasV: Variable;

  constructor(options: RelPositionMultiHeadAttentionAdapterOptions) {
    super(options);
    const rng = options.rng ?? getRng();
    this.linearPos = this.registerModule(
      'linear_pos',
      new Linear({ inFeatures: this.nFeat, outFeatures: this.projDim, bias: false, rng }),
    );
    // NeMo note: the biases are created as zero tensors; NeMo warns that multiplying by 0 can leave NaN.
    this.posBiasU = this.registerParameter('pos_bias_u', tf.zeros([this.nHead, this.dk]));
    this.posBiasV = this.registerParameter('pos_bias_v', tf.zeros([this.nHead, this.dk]));
  }

  /** `(Q + pos_bias_v)·Ppᵀ`, relative-shifted and cut to `T2` columns: `[B, H, T1, T2]`. */
  private positionTerm(q: Tensor, t2: number, posEmb: Tensor): Tensor {
    const b = q.shape[0]!;
    let p = splitHeads(this.linearPos.forward(posEmb), this.nHead, this.dk); // [nb, H, 2T−1, dk]
    if (p.shape[0] !== b) p = tf.tile(p, [b, 1, 1, 1]);
    const qv = tf.add(q, tf.reshape(this.posBiasV, [this.nHead, 1, this.dk]));
    const bd = relShift(matMul(qv, transposeLast2(p)));
    return tf.slice(bd, [0, 0, 0, 0], [-1, -1, -1, t2]);
  }

  private withBiasU(q: Tensor): Tensor {
    return tf.add(q, tf.reshape(this.posBiasU, [this.nHead, 1, this.dk]));
  }

  protected override referenceScores(q: Tensor, k: Tensor, args: CheckedMhaInput): Tensor {
    const ac = matMul(this.withBiasU(q), transposeLast2(k));
    const bd = this.positionTerm(q, k.shape[2]!, args.posEmb!);
    return tf.div(tf.add(ac, bd), Math.sqrt(this.dk));
  }

  protected override fusedLogits(q: Tensor, k: Tensor, args: CheckedMhaInput): Tensor {
    const scale = 1 / Math.sqrt(this.dk);
    const bias = tf.mul(this.positionTerm(q, k.shape[2]!, args.posEmb!), scale);
    return tf.add(matMul(tf.mul(this.withBiasU(q), scale), transposeLast2(k)), bias);
  }

  protected override checkInput(input: unknown): CheckedMhaInput {
    const args = super.checkInput(input);
    const where = this.typeName;
    const pos = args.posEmb;
    check(
      pos !== null,
      'INVALID_INPUT',
      () =>
        `${where}: 'posEmb' is required (a [1 or B, 2T−1, ${this.nFeat}] relative positional embedding, e.g. from relPositionalEncoding)`,
    );
    const b = args.query.shape[0]!;
    const t2 = args.key.shape[1]!;
    check(
      pos.rank === 3 &&
        (pos.shape[0] === 1 || pos.shape[0] === b) &&
        pos.shape[2] === this.nFeat &&
        pos.shape[1]! >= t2,
      'INVALID_INPUT',
      () =>
        `${where}: 'posEmb' must have shape [1 or ${b}, 2T−1 (≥ ${t2}), ${this.nFeat}], got ${fmtShape(pos.shape)}`,
    );
    return args;
  }
}

/**
 * Options of {@link TransformerMultiHeadAttentionAdapter}: the config's fields (see
 * {@link transformerMultiHeadAttentionAdapterSchema}), the strategy and the random source.
 */
export type TransformerMultiHeadAttentionAdapterOptions = AdapterModuleOptions &
  TransformerMultiHeadAttentionAdapterFields;

/** The named arguments of the transformer attention adapter's forward. */
export interface TransformerMultiHeadAttentionAdapterInput {
  /** `[B, T1, hiddenSize]`. */
  queries: Tensor;
  /** `[B, T2, hiddenSize]`. */
  keys: Tensor;
  /** `[B, T2, hiddenSize]` (also the residual base of `mhaResidualAdd`). */
  values: Tensor;
  /**
   * **Additive** float mask broadcasting to `[B, 1, T1, T2]`: 0 where attention is allowed, −10000
   * where it is masked (what a transformer host passes as `attMask`). Added to the scores as is.
   */
  attentionMask?: Tensor | null;
}

const TRANSFORMER_INPUT_KEYS = ['queries', 'keys', 'values', 'attentionMask'] as const;

/**
 * Transformer-style attention adapter (what NeMo calls `TransformerMultiHeadAttentionAdapter`, config
 * type `transformerMultiHeadAttention`).
 *
 * Forward, with `{queries, keys, values, attentionMask?}`: `Q, K, V` = `query_net|key_net|value_net`
 * of `pre_norm(·)` split into heads; `Q` and `K` are each divided by `dk^(1/4)` (so the scores carry
 * `1/√dk`); `S = Q·Kᵀ (+ attentionMask)`; `A = Dropout(attnScoreDropout)(softmax(S))`;
 * output `Dropout(attnLayerDropout)(out_projection(concat_heads(A·V)))`.
 *
 * State keys (P = projected width): `query_net|key_net|value_net.weight [P, hiddenSize]`, `.bias [P]`
 * (default init), `out_projection.weight [hiddenSize, P]`, `out_projection.bias [hiddenSize]` (zeros),
 * `pre_norm.weight|bias [hiddenSize]`.
 *
 * @example
 * ```ts
 * const a = new TransformerMultiHeadAttentionAdapter({ hiddenSize: 64, numAttentionHeads: 4 });
 * const y = a.forward({ queries: x, keys: x, values: x, attentionMask }); // zeros at init
 * ```
 */
export class TransformerMultiHeadAttentionAdapter extends AdapterModule {
  static override readonly typeName: string = 'TransformerMultiHeadAttentionAdapter';
  static override readonly defaultStrategy: StrategyConfig = { ...ATTENTION_DEFAULT_STRATEGY };

  readonly hiddenSize: number;
  readonly numAttentionHeads: number;
  /** Projected width P, after resolving the `projDim` option. */
  readonly projDim: number;
  /** Head size. */
  readonly dk: number;
  readonly attnScoreDropout: number;
  readonly attnLayerDropout: number;

  readonly queryNet: Linear;
  readonly keyNet: Linear;
  readonly valueNet: Linear;
  readonly outProjection: Linear;
  readonly attnDropout: Dropout;
  readonly layerDropout: Dropout;
  readonly preNorm: LayerNorm;

  constructor(options: TransformerMultiHeadAttentionAdapterOptions) {
    super(options);
    const { adapterStrategy } = options;
    const cfg = parseAdapterOptions(
      transformerMultiHeadAttentionAdapterSchema,
      'transformerMultiHeadAttention',
      options,
      this.typeName,
    );
    this.hiddenSize = cfg.hiddenSize;
    this.numAttentionHeads = cfg.numAttentionHeads;
    this.attnScoreDropout = cfg.attnScoreDropout;
    this.attnLayerDropout = cfg.attnLayerDropout;
    const dims = resolveAttentionDims({
      heads: this.numAttentionHeads,
      width: this.hiddenSize,
      projDim: cfg.projDim,
      where: this.typeName,
      headsName: 'numAttentionHeads',
      widthName: 'hiddenSize',
    });
    this.projDim = dims.projDim;
    this.dk = dims.dk;
    const rng = options.rng ?? getRng();
    const H = this.hiddenSize;
    const P = this.projDim;
    this.queryNet = this.registerModule('query_net', new Linear({ inFeatures: H, outFeatures: P, rng }));
    this.keyNet = this.registerModule('key_net', new Linear({ inFeatures: H, outFeatures: P, rng }));
    this.valueNet = this.registerModule('value_net', new Linear({ inFeatures: H, outFeatures: P, rng }));
    this.outProjection = this.registerModule(
      'out_projection',
      new Linear({ inFeatures: P, outFeatures: H, rng }),
    );
    zeroLinear(this.outProjection);
    this.attnDropout = this.registerModule(
      'attn_dropout',
      new Dropout({ p: this.attnScoreDropout, rng: options.rng }),
    );
    this.layerDropout = this.registerModule(
      'layer_dropout',
      new Dropout({ p: this.attnLayerDropout, rng: options.rng }),
    );
    this.preNorm = this.registerModule('pre_norm', new LayerNorm({ features: H }));
    this.setupAdapterStrategy(adapterStrategy);
  }

  /**
   * Attends `queries` over `keys`/`values` (see the class TSDoc). Runs inside `tf.tidy`.
   *
   * @param input - One named-argument object `{queries, keys, values, attentionMask?}`.
   * @returns `[B, T1, hiddenSize]`.
   * @throws AdapterError `INVALID_INPUT` for a missing or mis-shaped tensor, an unknown key, or a
   *   boolean `attentionMask` (it must be additive).
   */
  override forward(input: TransformerMultiHeadAttentionAdapterInput): Tensor {
    const { queries, keys, values, mask } = this.checkInput(input);
    return tf.tidy(() => {
      const h = this.numAttentionHeads;
      // NeMo note: Q and K are each pre-divided by dk^(1/4) "for numerical stability".
      const scale = Math.sqrt(Math.sqrt(this.dk));
      const q = tf.div(splitHeads(this.queryNet.forward(this.preNorm.forward(queries)), h, this.dk), scale);
      const k = tf.div(splitHeads(this.keyNet.forward(this.preNorm.forward(keys)), h, this.dk), scale);
      const v = splitHeads(this.valueNet.forward(this.preNorm.forward(values)), h, this.dk);
      let scores = matMul(q, transposeLast2(k));
      if (mask) scores = tf.add(scores, mask.dtype === 'float32' ? mask : tf.cast(mask, 'float32'));
      const attn = this.attnDropout.forward(tf.softmax(scores));
      const out = this.outProjection.forward(mergeHeads(matMul(attn, v)));
      return this.layerDropout.forward(out);
    });
  }

  private checkInput(input: unknown): { queries: Tensor; keys: Tensor; values: Tensor; mask: Tensor | null } {
    const where = this.typeName;
    const o = checkNamedInput(
      input,
      TRANSFORMER_INPUT_KEYS,
      where,
      '{queries, keys, values, attentionMask?}',
    );
    for (const name of ['queries', 'keys', 'values'] as const) {
      requireTensor(o[name], name, where);
      requireFeatures(o[name], name, this.hiddenSize, where);
    }
    const queries = o.queries as Tensor;
    const keys = o.keys as Tensor;
    const values = o.values as Tensor;
    const b = queries.shape[0]!;
    check(
      keys.shape[0] === b && values.shape[0] === b && keys.shape[1] === values.shape[1],
      'INVALID_INPUT',
      () =>
        `${where}: queries ${fmtShape(queries.shape)}, keys ${fmtShape(keys.shape)} and values ${fmtShape(values.shape)} must share the batch size, and keys and values the length`,
    );
    let mask: Tensor | null = null;
    if (o.attentionMask !== undefined && o.attentionMask !== null) {
      requireTensor(o.attentionMask, 'attentionMask', where);
      mask = o.attentionMask;
      // NeMo note: NeMo would add a boolean mask as 0/1 numbers; that is never what was meant.
      check(
        mask.dtype !== 'bool',
        'INVALID_INPUT',
        () =>
          `${where}: 'attentionMask' must be an additive float mask (0 = attend, −10000 = masked), got a boolean tensor`,
      );
      const target = [b, this.numAttentionHeads, queries.shape[1]!, keys.shape[1]!];
      const s = mask.shape;
      const aligned = s.length <= 4 && s.every((d, i) => d === 1 || d === target[4 - s.length + i]);
      check(
        aligned,
        'INVALID_INPUT',
        () =>
          `${where}: 'attentionMask' ${fmtShape(s)} does not broadcast to [B, 1, T1, T2] = [${b}, 1, ${target[2]}, ${target[3]}]`,
      );
    }
    return { queries, keys, values, mask };
  }
}
