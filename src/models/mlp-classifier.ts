/**
 * A multilayer perceptron classifier over feature vectors, the reference model for adapters on
 * plain (non-attention) hidden layers. Its hidden stack `body` is a layered host: an adapter added
 * to it runs in every hidden block, after the block's activation.
 */
import { tf, type Tensor } from '../backend/tf.js';
import '../adapters/builtins.js';
import { registerAdapter } from '../adapters/class-registry.js';
import { withAdapters, type AdapterHostModule } from '../adapters/host.js';
import { withLayeredAdapters } from '../adapters/layered-host.js';
import type { AdapterModelConfig } from '../adapters/model.js';
import { AdapterError, check, describeValue } from '../errors.js';
import { ACTIVATIONS, activationFn } from '../nn/activations.js';
import { dropout, Linear, Sequential } from '../nn/layers.js';
import { Module, fmtShape } from '../nn/module.js';
import type { Rng } from '../rng.js';
import { requireChoice, requireLabels, requirePositiveInt, withBuiltinAdapters } from './common.js';

/** Config of {@link MlpClassifier}. Stored with checkpoints; `adapters` holds the adapters config. */
export interface MlpClassifierConfig extends AdapterModelConfig {
  model?: 'mlp-classifier';
  /** Width of the input feature vectors. */
  inFeatures: number;
  /**
   * Widths of the hidden layers, in order (may be empty: a linear classifier). Adapters need at
   * least one hidden layer and all widths equal (see {@link MlpBodyAdapter}).
   */
  hidden: number[];
  /** Number of classes (width of the logits). */
  numClasses: number;
  /** Class names, one per logit column (optional); output extensions may not reuse them. */
  labels?: string[];
  /** Hidden activation (SPEC §2.9.1 names). Default `'gelu'`. */
  activation?: string;
  /** Dropout after each hidden block (training only). Default 0. */
  dropout?: number;
}

/** The model name stored in {@link MlpClassifierConfig.model}. */
export const MLP_CLASSIFIER = 'mlp-classifier';

/** Options of {@link MlpBlock}. */
export interface MlpBlockOptions {
  inFeatures: number;
  outFeatures: number;
  /** Default `'gelu'`. */
  activation?: string;
  /** Default 0. */
  dropout?: number;
  rng?: Rng;
}

/**
 * One hidden block: `dropout(adapterPoint(act(fc(x))))`. Child `fc` ({@link Linear}); the
 * adapter point is identity here, and runs the enabled adapters in {@link MlpBlockAdapter}.
 */
export class MlpBlock extends Module {
  static override readonly typeName: string = 'MlpBlock';
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly activation: string;
  readonly dropoutP: number;
  private readonly act: (x: Tensor) => Tensor;
  private readonly rng: Rng | undefined;

  constructor(options: MlpBlockOptions) {
    super();
    this.inFeatures = options.inFeatures;
    this.outFeatures = options.outFeatures;
    this.activation = options.activation ?? 'gelu';
    this.act = activationFn(this.activation);
    this.dropoutP = options.dropout ?? 0;
    check(
      typeof this.dropoutP === 'number' && this.dropoutP >= 0 && this.dropoutP <= 1,
      'INVALID_CONFIG',
      () => `MlpBlock: dropout must be a probability in [0, 1], got ${describeValue(options.dropout)}`,
      () => ({ field: 'dropout', value: options.dropout }),
    );
    this.rng = options.rng;
    this.registerModule(
      'fc',
      new Linear({ inFeatures: options.inFeatures, outFeatures: options.outFeatures, rng: options.rng }),
    );
  }

  /** `x [..., inFeatures]` → `[..., outFeatures]`. */
  override forward(x: Tensor): Tensor {
    return tf.tidy(() => {
      const h = this.adapterPoint(this.act(this.getChild('fc')!.forward(x) as Tensor));
      return dropout(h, this.dropoutP, this.training, this.rng);
    });
  }

  /** Adapter insertion point, after the activation. Identity here. */
  protected adapterPoint(h: Tensor): Tensor {
    return h;
  }
}

/** An {@link MlpBlock} that runs its enabled adapters after the activation. */
export class MlpBlockAdapter extends withAdapters(MlpBlock) {
  static override readonly typeName: string = 'MlpBlockAdapter';
  protected override adapterPoint(h: Tensor): Tensor {
    return this.isAdapterAvailable() ? this.forwardEnabledAdapters(h) : h;
  }
}

/** The hidden stack: {@link MlpBlock}s under child `layers` (`layers.0`, `layers.1`, …). */
export class MlpBody extends Module {
  static override readonly typeName: string = 'MlpBody';
  /** The hidden widths, in order. */
  readonly widths: readonly number[];

  constructor(options: {
    inFeatures: number;
    hidden: readonly number[];
    activation?: string;
    dropout?: number;
    rng?: Rng;
  }) {
    super();
    this.widths = [...options.hidden];
    const dims = [options.inFeatures, ...options.hidden];
    const blocks = options.hidden.map(
      (w, i) =>
        new MlpBlock({
          inFeatures: dims[i]!,
          outFeatures: w,
          activation: options.activation,
          dropout: options.dropout,
          rng: options.rng,
        }),
    );
    this.registerModule('layers', new Sequential(...blocks));
  }

  /** The blocks, in order (read from `layers`, so replaced blocks are returned). */
  blocks(): MlpBlock[] {
    return this.getChild('layers')!
      .namedChildren()
      .map(([, m]) => m as MlpBlock);
  }

  override forward(x: Tensor): Tensor {
    return tf.tidy(() => {
      let h = x;
      for (const block of this.blocks()) h = block.forward(h);
      return h;
    });
  }
}

/**
 * An {@link MlpBody} whose adapters go to every block, sized to the hidden width. Adapters keep one
 * config per model, so every block must have the same width: with unequal `hidden` widths (or no
 * hidden layer) adding an adapter is `INVALID_CONFIG` naming the widths.
 */
export class MlpBodyAdapter extends withLayeredAdapters(MlpBody) {
  static override readonly typeName: string = 'MlpBodyAdapter';
  override adapterLayers(): AdapterHostModule[] {
    return this.blocks() as unknown as AdapterHostModule[];
  }
  override get adapterInputDim(): number {
    const w = this.widths;
    if (w.length === 0) {
      throw new AdapterError(
        'INVALID_CONFIG',
        `${this.hostLabel()}: the MLP has no hidden layer, so there is nowhere to put an adapter; give 'hidden' at least one width`,
        { field: 'hidden', value: [] },
      );
    }
    if (w.some((x) => x !== w[0])) {
      throw new AdapterError(
        'INVALID_CONFIG',
        `${this.hostLabel()}: adapters need every hidden layer to have the same width, got hidden [${w.join(', ')}]; ` +
          `use equal widths (e.g. [${w.map(() => w[0]).join(', ')}])`,
        { field: 'hidden', value: [...w] },
      );
    }
    return w[0]!;
  }
}

registerAdapter(MlpBlock, MlpBlockAdapter);
registerAdapter(MlpBody, MlpBodyAdapter);

class MlpClassifierBase extends Module {
  static override readonly typeName: string = 'MlpClassifierBase';
  readonly cfg: MlpClassifierConfig;

  constructor(cfg: MlpClassifierConfig) {
    super();
    const name = MLP_CLASSIFIER;
    const c = cfg as unknown as Record<string, unknown>;
    for (const f of ['inFeatures', 'numClasses']) requirePositiveInt(c, f, name);
    check(
      Array.isArray(cfg.hidden) && cfg.hidden.every((w) => Number.isInteger(w) && w >= 1),
      'INVALID_CONFIG',
      () => `${name} config: hidden must be an array of integers ≥ 1, got ${JSON.stringify(cfg.hidden)}`,
      () => ({ field: 'hidden', value: cfg.hidden }),
    );
    const activation = requireChoice(c, 'activation', ACTIVATIONS, 'gelu', name);
    requireLabels(cfg as unknown as Record<string, unknown>, cfg.numClasses, name);
    const p = cfg.dropout ?? 0;
    check(
      typeof p === 'number' && p >= 0 && p <= 1,
      'INVALID_CONFIG',
      () => `${name} config: dropout must be a probability in [0, 1], got ${JSON.stringify(cfg.dropout)}`,
      () => ({ field: 'dropout', value: cfg.dropout }),
    );
    this.cfg = { ...structuredClone(cfg), model: MLP_CLASSIFIER, activation };
    this.registerModule(
      'body',
      new MlpBody({ inFeatures: cfg.inFeatures, hidden: cfg.hidden, activation, dropout: p }),
    );
    const last = cfg.hidden.length ? cfg.hidden[cfg.hidden.length - 1]! : cfg.inFeatures;
    this.registerModule('classifier', new Linear({ inFeatures: last, outFeatures: cfg.numClasses }));
  }
}

/**
 * A multilayer perceptron classifier: `classifier(body(x))`, where `body` holds the hidden blocks
 * `body.layers.<i>` (`fc`, activation, adapters, dropout).
 *
 * Adapter modules: `''` and `'body'` (both route to every hidden block, after its activation; all
 * hidden widths must be equal). LoRA targets default to the hidden `fc` layers; `classifier` is the
 * output layer (never an `'all-linear'` target).
 *
 * @example
 * ```ts
 * const mlp = new MlpClassifier({ inFeatures: 20, hidden: [64, 64], numClasses: 3 });
 * mlp.addAdapter('task', { type: 'linear', inFeatures: 64, dim: 8 });
 * const logits = mlp.forward(x); // x: float32 [B, 20] → [B, 3]
 * ```
 */
export class MlpClassifier extends withBuiltinAdapters(MlpClassifierBase, {
  module: 'body',
  outputLayer: 'classifier',
  loraTargets: ['fc'],
}) {
  static override readonly typeName: string = 'MlpClassifier';

  constructor(cfg: MlpClassifierConfig) {
    super(cfg);
  }

  /** `x` float32 `[B, inFeatures]` → logits `[B, numClasses]`. */
  override forward(x: Tensor): Tensor {
    check(
      x.rank === 2 && x.shape[1] === this.cfg.inFeatures && x.dtype === 'float32',
      'INVALID_INPUT',
      () =>
        `MlpClassifier.forward: expected float32 features [batch, ${this.cfg.inFeatures}], got ${x.dtype} ${fmtShape(x.shape)}`,
    );
    return tf.tidy(() => this.getChild('classifier')!.forward(this.getChild('body')!.forward(x)) as Tensor);
  }
}
