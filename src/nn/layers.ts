/**
 * The basic layers: Linear, LayerNorm, Dropout, Embedding, BatchNorm, Sequential, ModuleDict.
 * Each keeps PyTorch's state-dict keys, shapes and default initialisation.
 */
import { tf, type Tensor, type Variable } from '../backend/tf.js';
import { embeddingLookup, matMulWeightT } from '../backend/kernels.js';
import { heapKernelActive } from '../backend/kernels/heap-kernels.js';
import { nativeLayerNorm } from '../backend/kernels/layer-norm.js';
import { AdapterError, check } from '../errors.js';
import { getRng, type Rng } from '../rng.js';
import { normal, tfSeed, uniform } from './init.js';
import { fmtShape, Module } from './module.js';

function requirePositiveInt(v: unknown, field: string, layer: string): asserts v is number {
  check(
    Number.isInteger(v) && (v as number) >= 1,
    'INVALID_CONFIG',
    () => `${layer}: ${field} must be an integer ≥ 1, got ${JSON.stringify(v)}`,
    () => ({ field, value: v }),
  );
}

function requireProbability(v: unknown, field: string, layer: string): asserts v is number {
  check(
    typeof v === 'number' && v >= 0 && v <= 1,
    'INVALID_CONFIG',
    () => `${layer}: ${field} must be a probability in [0, 1], got ${JSON.stringify(v)}`,
    () => ({ field, value: v }),
  );
}

/** Throws `INVALID_INPUT` unless `x`'s last dimension is `size` (a layer's input width). */
export function requireLastDim(x: Tensor, size: number, layer: string): void {
  check(
    x.rank >= 1 && x.shape[x.rank - 1] === size,
    'INVALID_INPUT',
    () => `${layer}: the input's last dimension must be ${size}, got shape ${fmtShape(x.shape)}`,
  );
}

export interface LinearOptions {
  inFeatures: number;
  outFeatures: number;
  /** Default true. */
  bias?: boolean;
  rng?: Rng;
}

/**
 * `y = x·Wᵀ + b`. State keys: `weight [out, in]`, `bias [out]`.
 * Init: weight and bias i.i.d. U(±1/√in), PyTorch's default.
 */
export class Linear extends Module {
  static override readonly typeName: string = 'Linear';
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Variable;
  readonly bias: Variable | null;

  constructor(options: LinearOptions) {
    super();
    requirePositiveInt(options.inFeatures, 'inFeatures', 'Linear');
    requirePositiveInt(options.outFeatures, 'outFeatures', 'Linear');
    this.inFeatures = options.inFeatures;
    this.outFeatures = options.outFeatures;
    const rng = options.rng ?? getRng();
    const bound = 1 / Math.sqrt(options.inFeatures);
    this.weight = this.registerParameter(
      'weight',
      uniform([options.outFeatures, options.inFeatures], bound, rng),
    );
    this.bias =
      options.bias === false
        ? null
        : this.registerParameter('bias', uniform([options.outFeatures], bound, rng));
  }

  override forward(x: Tensor): Tensor {
    requireLastDim(x, this.inFeatures, 'Linear');
    return linear(x, this.weight, this.bias);
  }
}

/** `x·Wᵀ + b` with `W [out, in]`; fast matMul gradient on wasm. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  return tf.tidy(() => {
    const y = matMulWeightT(x, weight);
    return bias ? tf.add(y, bias) : y;
  });
}

export interface LayerNormOptions {
  features: number;
  /** Default 1e-5, as PyTorch. */
  eps?: number;
}

/**
 * Layer normalisation over the last dimension with biased variance:
 * `(x − μ)/√(σ² + eps)·γ + β`. State keys: `weight [f]` (γ = 1), `bias [f]` (β = 0).
 */
export class LayerNorm extends Module {
  static override readonly typeName: string = 'LayerNorm';
  readonly features: number;
  readonly eps: number;
  readonly weight: Variable;
  readonly bias: Variable;

  constructor(options: LayerNormOptions) {
    super();
    requirePositiveInt(options.features, 'features', 'LayerNorm');
    this.features = options.features;
    this.eps = options.eps ?? 1e-5;
    this.weight = this.registerParameter('weight', tf.ones([options.features]));
    this.bias = this.registerParameter('bias', tf.zeros([options.features]));
  }

  override forward(x: Tensor): Tensor {
    requireLastDim(x, this.features, 'LayerNorm');
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/**
 * Functional layer norm over the last axis (biased variance). `gamma` and `beta` broadcast against
 * `x` (`[D]`, or per-row `[B, 1, D]` when adapters are routed per sample); the native kernel takes the
 * `[D]` form only.
 */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  const d = x.shape[x.rank - 1];
  if (
    heapKernelActive('layerNorm') &&
    gamma.rank === 1 &&
    beta.rank === 1 &&
    gamma.shape[0] === d &&
    beta.shape[0] === d
  ) {
    return nativeLayerNorm(x, gamma, beta, eps);
  }
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const mean = tf.mean(x, axis, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), axis, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
  });
}

/**
 * Inverted dropout: in training each element is kept with probability 1−p and scaled by 1/(1−p)
 * (all zero when p = 1); identity in eval. Masks come from the library RNG (seeded).
 */
export class Dropout extends Module {
  static override readonly typeName: string = 'Dropout';
  readonly p: number;
  private readonly rng: Rng | undefined;

  constructor(options: { p: number; rng?: Rng }) {
    super();
    requireProbability(options.p, 'p', 'Dropout');
    this.p = options.p;
    this.rng = options.rng;
  }

  override forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, this.rng);
  }
}

/** Functional inverted dropout; the mask is drawn with a seed from the library RNG. */
export function dropout(x: Tensor, p: number, training: boolean, rng?: Rng): Tensor {
  if (!training || p === 0) return x;
  if (p === 1) return tf.zerosLike(x);
  return tf.tidy(() => {
    const keep = tf.less(tf.randomUniform(x.shape, 0, 1, 'float32', tfSeed(rng ?? getRng())), 1 - p);
    return tf.mul(x, tf.div(tf.cast(keep, 'float32'), 1 - p));
  });
}

/** Row lookup. State key: `weight [num, dim]`, init N(0, 1) as PyTorch. */
export class Embedding extends Module {
  static override readonly typeName: string = 'Embedding';
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly weight: Variable;

  constructor(options: { numEmbeddings: number; embeddingDim: number; rng?: Rng }) {
    super();
    requirePositiveInt(options.numEmbeddings, 'numEmbeddings', 'Embedding');
    requirePositiveInt(options.embeddingDim, 'embeddingDim', 'Embedding');
    this.numEmbeddings = options.numEmbeddings;
    this.embeddingDim = options.embeddingDim;
    this.weight = this.registerParameter(
      'weight',
      normal([options.numEmbeddings, options.embeddingDim], 1, options.rng),
    );
  }

  /** `ids`: an int32 tensor of any shape; returns `[...ids.shape, dim]`. */
  override forward(ids: Tensor): Tensor {
    check(ids.dtype === 'int32', 'INVALID_INPUT', () => `Embedding: ids must be int32, got ${ids.dtype}`);
    return embeddingLookup(ids, this.weight);
  }
}

export interface BatchNormOptions {
  features: number;
  eps?: number;
  momentum?: number;
  trackRunningStats?: boolean;
}

/**
 * Batch normalisation over the channel axis (axis 1), as PyTorch's BatchNorm1d/2d/3d. State keys:
 * `weight`, `bias`, and persistent buffers `running_mean`, `running_var`, `num_batches_tracked`.
 * Eval uses the running statistics whenever they exist, even with `trackRunningStats = false`.
 */
export class BatchNorm extends Module {
  static override readonly typeName: string = 'BatchNorm';
  /** Input ranks this variant accepts. */
  protected readonly ranks: readonly number[] = [2, 3, 4, 5];
  readonly features: number;
  readonly eps: number;
  readonly momentum: number;
  trackRunningStats: boolean;
  readonly weight: Variable;
  readonly bias: Variable;

  constructor(options: BatchNormOptions) {
    super();
    requirePositiveInt(options.features, 'features', this.typeName);
    this.features = options.features;
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    this.trackRunningStats = options.trackRunningStats ?? true;
    this.weight = this.registerParameter('weight', tf.ones([this.features]));
    this.bias = this.registerParameter('bias', tf.zeros([this.features]));
    this.registerBuffer('running_mean', tf.zeros([this.features]));
    this.registerBuffer('running_var', tf.ones([this.features]));
    this.registerBuffer('num_batches_tracked', tf.scalar(0, 'int32'));
  }

  override forward(x: Tensor): Tensor {
    check(
      this.ranks.includes(x.rank) && x.shape[1] === this.features,
      'INVALID_INPUT',
      () =>
        `${this.typeName}: expected input of rank ${this.ranks.join(' or ')} with ${this.features} channels on axis 1, got ${fmtShape(x.shape)}`,
    );
    const axes = [0, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 2)];
    const bshape = [1, this.features, ...Array(x.rank - 2).fill(1)];
    const useBatchStats = this.training;
    if (useBatchStats && this.trackRunningStats) this.updateRunningStats(x, axes);
    return tf.tidy(() => {
      let mean: Tensor;
      let variance: Tensor;
      if (useBatchStats) {
        mean = tf.mean(x, axes);
        variance = tf.mean(tf.square(tf.sub(x, tf.reshape(mean, bshape))), axes);
      } else {
        mean = this.getBuffer('running_mean')!;
        variance = this.getBuffer('running_var')!;
      }
      const scale = tf.mul(tf.rsqrt(tf.add(variance, this.eps)), this.weight);
      return tf.add(
        tf.mul(tf.sub(x, tf.reshape(mean, bshape)), tf.reshape(scale, bshape)),
        tf.reshape(this.bias, bshape),
      );
    });
  }

  private updateRunningStats(x: Tensor, axes: number[]): void {
    const n = x.size / this.features;
    const [rm, rv] = tf.tidy(() => {
      const mean = tf.mean(x, axes);
      const bshape = [1, this.features, ...Array(x.rank - 2).fill(1)];
      const unbiased = tf.div(
        tf.sum(tf.square(tf.sub(x, tf.reshape(mean, bshape))), axes),
        Math.max(n - 1, 1),
      );
      const m = this.momentum;
      return [
        tf.add(tf.mul(this.getBuffer('running_mean')!, 1 - m), tf.mul(mean, m)),
        tf.add(tf.mul(this.getBuffer('running_var')!, 1 - m), tf.mul(unbiased, m)),
      ];
    });
    this.setBuffer('running_mean', rm!);
    this.setBuffer('running_var', rv!);
    const count = this.getBuffer('num_batches_tracked')!;
    this.setBuffer(
      'num_batches_tracked',
      tf.tidy(() => tf.add(count, tf.scalar(1, 'int32'))),
    );
  }
}

/** Batch norm for `[N, C]` or `[N, C, L]` inputs. */
export class BatchNorm1d extends BatchNorm {
  static override readonly typeName: string = 'BatchNorm1d';
  protected override readonly ranks = [2, 3];
}
/** Batch norm for `[N, C, H, W]` inputs. */
export class BatchNorm2d extends BatchNorm {
  static override readonly typeName: string = 'BatchNorm2d';
  protected override readonly ranks = [4];
}
/** Batch norm for `[N, C, D, H, W]` inputs. */
export class BatchNorm3d extends BatchNorm {
  static override readonly typeName: string = 'BatchNorm3d';
  protected override readonly ranks = [5];
}

/** Applies its children in order; children are named `"0"`, `"1"`, … */
export class Sequential extends Module {
  static override readonly typeName: string = 'Sequential';
  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }
  /** The child at position `i`. */
  at(i: number): Module {
    const m = this.getChild(String(i));
    if (!m) throw new AdapterError('INVALID_NAME', `Sequential has no layer ${i} (it has ${this.length})`);
    return m;
  }
  get length(): number {
    return this.namedChildren().length;
  }
  override forward(x: Tensor): Tensor {
    let y = x;
    for (const [, m] of this.namedChildren()) y = m.forward(y);
    return y;
  }
}

/** Children keyed by name, in insertion order. */
export class ModuleDict<M extends Module = Module> extends Module {
  static override readonly typeName: string = 'ModuleDict';
  set(name: string, m: M): void {
    this.registerModule(name, m);
  }
  get(name: string): M | undefined {
    return this.getChild(name) as M | undefined;
  }
  has(name: string): boolean {
    return this.getChild(name) !== undefined;
  }
  delete(name: string): M | undefined {
    return this.removeModule(name) as M | undefined;
  }
  keys(): string[] {
    return this.namedChildren().map(([k]) => k);
  }
  entries(): Array<[string, M]> {
    return this.namedChildren() as Array<[string, M]>;
  }
  get size(): number {
    return this.namedChildren().length;
  }
}
