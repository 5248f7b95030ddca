/**
 * Pre-LN transformer blocks and stacks with adapter hooks at the block input, the self-attention
 * output, after the self-attention residual (`'mha'`, SPEC §2.7), the FFN output and the block
 * output (`'post'`).
 */
import { tf, type Tensor } from '../backend/tf.js';
import { check } from '../errors.js';
import type { Rng } from '../rng.js';
import { activationFn } from './activations.js';
import { causalMask, MultiHeadAttention, paddingMaskToAdditive, type AttentionPrefix } from './attention.js';
import { selfAttentionWithPast, type PastKeyValues } from './kv-attention.js';
import { dropout, Dropout, LayerNorm, Linear, Sequential } from './layers.js';
import { fmtShape, Module } from './module.js';
import { matchBatchRows } from './replicated-rows.js';

/** The additive value that marks a masked position in the mask handed to adapters (SPEC §2.9.3). */
export const ADAPTER_MASK_VALUE = -10000;

/**
 * Where a block calls its adapter hook, in forward order: `'input'` (block input), `'attentionOutput'`
 * (self-attention output after dropout, before its residual add), `'mha'` (after that residual),
 * `'ffnOutput'` (FFN output after dropout, before its residual add), `'post'` (block output).
 */
export type AdapterLocation = 'input' | 'attentionOutput' | 'mha' | 'ffnOutput' | 'post';

/** What a block passes to {@link TransformerBlock.adapterPoint}. */
export interface AdapterPointContext {
  /** Additive mask broadcasting to `[B, 1, T, T]`: 0 = attend, −10000 = masked. Absent when nothing is masked. */
  attMask?: Tensor;
  /** Positional embedding (only relative-position hosts have one). */
  posEmb?: Tensor;
}

/** Options of a transformer block. */
export interface TransformerBlockOptions {
  dModel: number;
  nHead: number;
  /** Hidden width of the feed-forward network. */
  dFF: number;
  /** Dropout on attention probabilities, inside the FFN and on both residual branches. Default 0. */
  dropout?: number;
  /** FFN activation (SPEC §2.9.1 names). Default `'gelu'` (exact). */
  activation?: string;
  /** Causal self-attention. Default false for encoder blocks, true for decoder blocks. */
  causal?: boolean;
  rng?: Rng;
}

/** Per-call options of a block or stack forward. */
export interface TransformerForwardOptions {
  /** `[B, T]`, bool or 0/1: true marks a padded position that no query may attend to. */
  keyPaddingMask?: Tensor;
  /** Extra additive float mask broadcasting to `[B, 1, T, T]`, added to the block's own mask. */
  attMask?: Tensor;
}

function requireInt(v: unknown, field: string, layer: string): void {
  check(
    Number.isInteger(v) && (v as number) >= 1,
    'INVALID_CONFIG',
    () => `${layer}: ${field} must be an integer ≥ 1, got ${JSON.stringify(v)}`,
    () => ({ field, value: v }),
  );
}

/**
 * Position-wise feed-forward network `fc2(dropout(act(fc1(x))))`. Children `fc1 [dFF, D]`, `fc2 [D, dFF]`.
 */
export class FeedForward extends Module {
  static override readonly typeName: string = 'FeedForward';
  readonly activation: string;
  readonly dropoutP: number;
  private readonly act: (x: Tensor) => Tensor;
  private readonly rng: Rng | undefined;

  constructor(options: { dModel: number; dFF: number; dropout?: number; activation?: string; rng?: Rng }) {
    super();
    this.activation = options.activation ?? 'gelu';
    this.act = activationFn(this.activation);
    this.dropoutP = options.dropout ?? 0;
    this.rng = options.rng;
    const { dModel, dFF, rng } = options;
    this.registerModule('fc1', new Linear({ inFeatures: dModel, outFeatures: dFF, rng }));
    this.registerModule('fc2', new Linear({ inFeatures: dFF, outFeatures: dModel, rng }));
  }

  override forward(x: Tensor): Tensor {
    return tf.tidy(() => {
      const h = this.act(this.getChild('fc1')!.forward(x) as Tensor);
      return this.getChild('fc2')!.forward(dropout(h, this.dropoutP, this.training, this.rng)) as Tensor;
    });
  }
}

/**
 * Shared pre-LN block, with its adapter hooks:
 * `x₀ = input(x)`, `h = mha(x₀ + attentionOutput(drop(self_attn(norm1(x₀)))))`,
 * `y = post(h + ffnOutput(drop(ffn(norm2(h)))))`.
 *
 * Children (state-dict order): `norm1`, `self_attn` ({@link MultiHeadAttention}), `norm2`, `ffn`
 * ({@link FeedForward}: `ffn.fc1`, `ffn.fc2`), `dropout`. The forward looks children up by name, so
 * `replaceModule` (e.g. LoRA) takes effect.
 *
 * The block builds one additive mask per forward from its causal setting and the key padding mask
 * (0 = attend, −10000 = masked, plus any caller `attMask`), runs self-attention with it and hands
 * it to {@link adapterPoint} as `ctx.attMask`.
 */
export abstract class TransformerBlock extends Module {
  static override readonly typeName: string = 'TransformerBlock';
  /** Attention flavour, read by attention adapters (SPEC §2.7). */
  readonly selfAttentionModel: string = 'abs_pos';
  readonly dModel: number;
  readonly nHead: number;
  readonly dFF: number;
  readonly causal: boolean;

  protected constructor(options: TransformerBlockOptions, defaultCausal: boolean) {
    super();
    const layer = new.target.typeName;
    requireInt(options.dModel, 'dModel', layer);
    requireInt(options.nHead, 'nHead', layer);
    requireInt(options.dFF, 'dFF', layer);
    this.dModel = options.dModel;
    this.nHead = options.nHead;
    this.dFF = options.dFF;
    this.causal = options.causal ?? defaultCausal;
    const { dModel, nHead, dFF, rng } = options;
    const p = options.dropout ?? 0;
    this.registerModule('norm1', new LayerNorm({ features: dModel }));
    this.registerModule('self_attn', new MultiHeadAttention({ dModel, nHead, dropout: p, rng }));
    this.registerModule('norm2', new LayerNorm({ features: dModel }));
    this.registerModule(
      'ffn',
      new FeedForward({ dModel, dFF, dropout: p, activation: options.activation, rng }),
    );
    this.registerModule('dropout', new Dropout({ p, rng }));
  }

  /** `x [B, T, dModel]` → `[B, T, dModel]`. */
  override forward(x: Tensor, opts: TransformerForwardOptions = {}): Tensor {
    check(
      x.rank === 3 && x.shape[2] === this.dModel,
      'INVALID_INPUT',
      () => `${this.typeName}: input must have shape [B, T, ${this.dModel}], got ${fmtShape(x.shape)}`,
    );
    return tf.tidy(() => {
      let ctx = this.pointContext(x, opts);
      const x0 = this.adapterPoint('input', x, ctx);
      // A Parallel composition at 'input' replicates the batch: the mask follows it.
      if (x0.shape[0] !== x.shape[0]) ctx = this.pointContext(x0, opts);
      const drop = this.getChild('dropout')!;
      const n1 = this.getChild('norm1')!.forward(x0) as Tensor;
      const prefix = this.selfAttentionPrefix();
      const a = this.getChild('self_attn')!.forward(n1, n1, n1, { attnMask: ctx.attMask, prefix }) as Tensor;
      const aOut = this.adapterPoint('attentionOutput', drop.forward(a) as Tensor, ctx);
      let h = this.adapterPoint('mha', tf.add(x0, aOut), ctx);
      h = this.crossAttention(h, opts);
      const f = this.getChild('ffn')!.forward(this.getChild('norm2')!.forward(h)) as Tensor;
      const fOut = this.adapterPoint('ffnOutput', drop.forward(f) as Tensor, ctx);
      return this.adapterPoint('post', tf.add(h, fOut), ctx);
    });
  }

  /**
   * One incremental (key/value-cached) step in eval mode: `x [B, T, dModel]` holds only the new
   * positions, `past` the keys/values of earlier ones and `mask` the additive `[B, 1, T, P + T]` mask
   * (see {@link selfAttentionWithPast}). Returns the block output and the new positions' keys and
   * values. Adapters run at every hook with an empty context (no attention mask), which is exact
   * for position-wise adapters.
   */
  forwardWithPast(
    x: Tensor,
    past: PastKeyValues | null,
    mask: Tensor | null,
  ): { y: Tensor; k: Tensor; v: Tensor } {
    check(
      x.rank === 3 && x.shape[2] === this.dModel,
      'INVALID_INPUT',
      () => `${this.typeName}: input must have shape [B, T, ${this.dModel}], got ${fmtShape(x.shape)}`,
    );
    return tf.tidy(() => {
      const x0 = this.adapterPoint('input', x, {});
      const n1 = this.getChild('norm1')!.forward(x0) as Tensor;
      const self = this.getChild('self_attn') as MultiHeadAttention;
      const a = selfAttentionWithPast(self, n1, past, mask, this.selfAttentionPrefix());
      const h = this.adapterPoint('mha', tf.add(x0, this.adapterPoint('attentionOutput', a.out, {})), {});
      const f = this.getChild('ffn')!.forward(this.getChild('norm2')!.forward(h)) as Tensor;
      const y = this.adapterPoint('post', tf.add(h, this.adapterPoint('ffnOutput', f, {})), {});
      return { y, k: a.k, v: a.v };
    });
  }

  /**
   * Adapter hook, called at each {@link AdapterLocation} in forward order. Identity here; an
   * adapter-capable subclass overrides it.
   */
  protected adapterPoint(_loc: AdapterLocation, x: Tensor, _ctx: AdapterPointContext): Tensor {
    return x;
  }

  /** What the block hands its adapter hook: the additive self-attention mask for `x`'s batch, if any. */
  private pointContext(x: Tensor, opts: TransformerForwardOptions): AdapterPointContext {
    const attMask = this.attentionMask(x, opts);
    return attMask ? { attMask } : {};
  }

  /**
   * Hook: keys and values prepended to the self-attention's own, unmasked (prefix tuning). None
   * here; adapter-capable subclasses return their enabled prefixes. Called inside the forward's scope.
   */
  selfAttentionPrefix(): AttentionPrefix | undefined {
    return undefined;
  }

  /** Hook between the `'mha'` point and the FFN (decoder blocks with cross-attention override it). */
  protected crossAttention(x: Tensor, _opts: TransformerForwardOptions): Tensor {
    return x;
  }

  /**
   * The additive self-attention mask `[B or 1, 1, T or 1, T]` (0 / −10000, plus `opts.attMask`), or
   * undefined when nothing is masked. Built from constants and the caller's mask only.
   */
  protected attentionMask(x: Tensor, opts: TransformerForwardOptions): Tensor | undefined {
    const [b, t] = x.shape as [number, number, number];
    // Masks follow a batch that a Parallel adapter setup replicated in an earlier block.
    const pad = opts.keyPaddingMask && matchBatchRows(x, opts.keyPaddingMask);
    const attMask = opts.attMask && matchBatchRows(x, opts.attMask);
    let mask: Tensor | undefined;
    if (pad) {
      check(
        pad.rank === 2 && pad.shape[0] === b && pad.shape[1] === t,
        'INVALID_INPUT',
        () =>
          `${this.typeName}: keyPaddingMask must have shape [${b}, ${t}] ([B, T]), got ${fmtShape(pad.shape)}`,
      );
      mask = paddingMaskToAdditive(pad, ADAPTER_MASK_VALUE);
    }
    if (this.causal) {
      const c = tf.reshape(causalMask(t, t, ADAPTER_MASK_VALUE), [1, 1, t, t]);
      mask = mask ? tf.minimum(mask, c) : c; // padded and in the future: still exactly −10000
    }
    if (attMask) mask = mask ? tf.add(mask, attMask) : attMask;
    return mask;
  }
}

/** Pre-LN encoder block (bidirectional self-attention unless `causal`). */
export class TransformerEncoderBlock extends TransformerBlock {
  static override readonly typeName: string = 'TransformerEncoderBlock';
  constructor(options: TransformerBlockOptions) {
    super(options, false);
  }
}

/** Options of {@link TransformerDecoderBlock}. */
export interface TransformerDecoderBlockOptions extends TransformerBlockOptions {
  /** Add cross-attention over an encoder memory (children `cross_norm`, `cross_attn`). Default false. */
  crossAttention?: boolean;
}

/** Forward options of a decoder block or stack. */
export interface TransformerDecoderForwardOptions extends TransformerForwardOptions {
  /** Encoder output `[B, S, dModel]` (blocks built with `crossAttention` only). */
  memory?: Tensor;
  /** `[B, S]`, true marks padded memory positions. */
  memoryKeyPaddingMask?: Tensor;
}

/**
 * Pre-LN decoder block, GPT style: causal self-attention (unless `causal: false`) + FFN. With
 * `crossAttention`, `x + drop(cross_attn(cross_norm(x), memory))` runs between the `'mha'` point and
 * the FFN.
 */
export class TransformerDecoderBlock extends TransformerBlock {
  static override readonly typeName: string = 'TransformerDecoderBlock';
  readonly hasCrossAttention: boolean;

  constructor(options: TransformerDecoderBlockOptions) {
    super(options, true);
    this.hasCrossAttention = options.crossAttention ?? false;
    if (this.hasCrossAttention) {
      const { dModel, nHead, rng } = options;
      this.registerModule('cross_norm', new LayerNorm({ features: dModel }));
      this.registerModule(
        'cross_attn',
        new MultiHeadAttention({ dModel, nHead, dropout: options.dropout ?? 0, rng }),
      );
    }
  }

  override forward(x: Tensor, opts: TransformerDecoderForwardOptions = {}): Tensor {
    const { memory } = opts;
    check(this.hasCrossAttention === (memory !== undefined), 'INVALID_INPUT', () =>
      this.hasCrossAttention
        ? `${this.typeName}: this block has cross-attention; pass opts.memory [B, S, ${this.dModel}]`
        : `${this.typeName}: opts.memory was given but the block was built without crossAttention`,
    );
    return super.forward(x, opts);
  }

  protected override crossAttention(x: Tensor, opts: TransformerDecoderForwardOptions): Tensor {
    if (!opts.memory) return x;
    const memory = matchBatchRows(x, opts.memory);
    const memoryKeyPaddingMask = opts.memoryKeyPaddingMask && matchBatchRows(x, opts.memoryKeyPaddingMask);
    const n = this.getChild('cross_norm')!.forward(x) as Tensor;
    const a = this.getChild('cross_attn')!.forward(n, memory, memory, {
      keyPaddingMask: memoryKeyPaddingMask,
    }) as Tensor;
    return tf.add(x, this.getChild('dropout')!.forward(a) as Tensor);
  }
}

/** Options of a transformer stack. */
export interface TransformerStackOptions extends TransformerBlockOptions {
  /** Number of blocks. */
  numLayers: number;
}

/**
 * Base of {@link TransformerEncoder} and {@link TransformerDecoder}: a stack of blocks in child `layers` (children `"0"`, `"1"`, …, so paths read
 * `layers.0.self_attn.q_proj`) followed by a final LayerNorm `norm`.
 */
export abstract class TransformerStack<B extends TransformerBlock> extends Module {
  static override readonly typeName: string = 'TransformerStack';
  readonly dModel: number;
  readonly numLayers: number;

  protected constructor(options: TransformerStackOptions, make: (i: number) => B) {
    super();
    requireInt(options.numLayers, 'numLayers', new.target.typeName);
    this.dModel = options.dModel;
    this.numLayers = options.numLayers;
    const blocks = Array.from({ length: options.numLayers }, (_, i) => make(i));
    this.registerModule('layers', new Sequential(...blocks));
    this.registerModule('norm', new LayerNorm({ features: options.dModel }));
  }

  /** The blocks, in order (read from `layers`, so replaced blocks are returned). */
  blocks(): B[] {
    return this.getChild('layers')!
      .namedChildren()
      .map(([, m]) => m as B);
  }

  override forward(x: Tensor, opts: TransformerForwardOptions = {}): Tensor {
    return tf.tidy(() => {
      let h = x;
      for (const block of this.blocks()) h = block.forward(h, opts);
      return this.getChild('norm')!.forward(h) as Tensor;
    });
  }
}

/** Pre-LN transformer encoder: `numLayers` {@link TransformerEncoderBlock}s + final `norm`. */
export class TransformerEncoder extends TransformerStack<TransformerEncoderBlock> {
  static override readonly typeName: string = 'TransformerEncoder';
  constructor(options: TransformerStackOptions) {
    super(options, () => new TransformerEncoderBlock(options));
  }
}

/** Options of {@link TransformerDecoder}. */
export interface TransformerDecoderOptions extends TransformerStackOptions {
  /** Give every block cross-attention over `opts.memory`. Default false. */
  crossAttention?: boolean;
}

/** Pre-LN transformer decoder (GPT style by default): `numLayers` {@link TransformerDecoderBlock}s + `norm`. */
export class TransformerDecoder extends TransformerStack<TransformerDecoderBlock> {
  static override readonly typeName: string = 'TransformerDecoder';
  constructor(options: TransformerDecoderOptions) {
    super(options, () => new TransformerDecoderBlock(options));
  }

  override forward(x: Tensor, opts: TransformerDecoderForwardOptions = {}): Tensor {
    return super.forward(x, opts);
  }
}
