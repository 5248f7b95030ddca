/**
 * The fused kernels that replace TensorFlow.js's many-kernel decompositions on the wasm backend
 * (GELU, LayerNorm, bias-gradient Sum, AdamW, the embedding gather, cross-entropy, the softmax
 * gradient): the functions they call on the wasm heap, and which of them are registered now and by
 * whom. Two providers implement {@link HeapKernels}: the native addon in Node (native.ts) and plain
 * JavaScript (js-heap-kernels.ts), which browsers get too. Ops ask {@link heapKernelActive} whether
 * to take the fused path.
 */
import { tf } from '../tf.js';

/**
 * Element-wise and row-wise kernels on the wasm heap (`heap` is the backend's memory, re-read by the
 * caller after every allocation; offsets and sizes are in 4-byte elements). Their arithmetic is
 * documented in native/adapterkit_native.c.
 */
export interface HeapKernels {
  /** `y = gelu(x)` (exact) over `n` floats. */
  gelu(heap: ArrayBufferLike, x: number, y: number, n: number): void;
  /** `dx = dy·gelu'(x)` over `n` floats. */
  geluGrad(heap: ArrayBufferLike, x: number, dy: number, dx: number, n: number): void;
  /**
   * Optional: `y = gelu(x)` and `d = gelu'(x)` in one pass, so that training's backward is one
   * multiply (worth it where the exp is dear: the JavaScript kernels).
   */
  geluWithDerivative?(heap: ArrayBufferLike, x: number, y: number, d: number, n: number): void;
  /** Sums `x` viewed as `[outer, inner]` over its outer axis (`leading` 1) or its inner axis (0). */
  sum(heap: ArrayBufferLike, x: number, out: number, outer: number, inner: number, leading: number): void;
  /** One AdamW update (see kernels/adamw.ts); offsets in floats. */
  adamw(
    heap: ArrayBufferLike,
    p: number,
    g: number,
    m: number,
    v: number,
    pOut: number,
    mOut: number,
    vOut: number,
    n: number,
    decay: number,
    beta1: number,
    beta2: number,
    eps: number,
    stepSize: number,
    sqrtBiasCorrection2: number,
    sign: number,
  ): void;
  /** `out[i] = x[indices[i]]` for rows of `rowLen` 4-byte values; −1, or the position of the first index outside `[0, rows)`. */
  gatherRows(
    heap: ArrayBufferLike,
    x: number,
    indices: number,
    out: number,
    rows: number,
    rowLen: number,
    count: number,
  ): number;
  /** LayerNorm over rows of `f` values; writes `y` and each row's mean and 1/σ (see kernels/layer-norm.ts). */
  layerNorm(
    heap: ArrayBufferLike,
    x: number,
    gamma: number,
    beta: number,
    y: number,
    mean: number,
    rstd: number,
    rows: number,
    f: number,
    eps: number,
  ): void;
  /** LayerNorm's gradient: `dx`, and with `params` 1 also `dgamma` and `dbeta`. */
  layerNormGrad(
    heap: ArrayBufferLike,
    dy: number,
    x: number,
    gamma: number,
    mean: number,
    rstd: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    rows: number,
    f: number,
    params: number,
  ): void;
  /** Per-row log-sum-exp and `lse − x[id]` (0 where id < 0); −1, or the first row whose id is ≥ classes. */
  softmaxXent(
    heap: ArrayBufferLike,
    logits: number,
    ids: number,
    nll: number,
    lse: number,
    rows: number,
    classes: number,
  ): number;
  /** `dx = dy·(softmax(x) − onehot(id))`, 0 where id < 0. */
  softmaxXentGrad(
    heap: ArrayBufferLike,
    logits: number,
    ids: number,
    lse: number,
    dy: number,
    dx: number,
    rows: number,
    classes: number,
  ): void;
  /** Softmax's gradient `dx = y·(dy − Σ dy·y)` per row. */
  softmaxGrad(heap: ArrayBufferLike, y: number, dy: number, dx: number, rows: number, cols: number): void;
}

/**
 * The fused ops, by the library op they speed up: `gelu` (forward and backward), `layerNorm`
 * (forward and backward), `sum` (TensorFlow.js's `Sum` over a leading or trailing block of axes:
 * bias gradients), `adamw` (one update per parameter), `gather` (`GatherV2` of table rows: the
 * embedding lookup), `crossEntropy` (forward and backward), `softmaxGrad` (attention softmax's backward).
 */
export const HEAP_OPS = [
  'gelu',
  'layerNorm',
  'sum',
  'adamw',
  'gather',
  'crossEntropy',
  'softmaxGrad',
] as const;
/** One of {@link HEAP_OPS}. */
export type HeapOp = (typeof HEAP_OPS)[number];
/** Who implements the registered fused kernels: the Node addon or plain JavaScript. */
export type HeapKernelProvider = 'native' | 'js';

let provider: HeapKernelProvider | null = null;
let ops = new Set<HeapOp>();
let trainingOnly = new Set<HeapOp>();

/**
 * Records what is registered (called by the registrar only, fused-kernels.ts). Ops in
 * `whileTraining` are used only while a gradient is being recorded (their forward alone is slower
 * than TensorFlow.js's; forward and backward together are faster).
 */
export function setActiveHeapKernels(
  by: HeapKernelProvider | null,
  names: readonly HeapOp[],
  whileTraining: readonly HeapOp[] = [],
): void {
  provider = names.length > 0 ? by : null;
  ops = new Set(provider ? names : []);
  trainingOnly = new Set(whileTraining.filter((o) => ops.has(o)));
}

/**
 * True when `op`'s fused kernels are registered, the wasm backend is the active one, and (for an op
 * registered for training only) a gradient is being recorded.
 */
export function heapKernelActive(op: HeapOp): boolean {
  if (!ops.has(op) || tf.getBackend() !== 'wasm') return false;
  return !trainingOnly.has(op) || tf.engine().isTapeOn();
}

/**
 * Who provides the registered fused kernels (null when none are), which ops they cover, and which
 * of those only while a gradient is recorded.
 */
export function activeHeapKernels(): {
  provider: HeapKernelProvider | null;
  ops: HeapOp[];
  trainingOnly: HeapOp[];
} {
  return {
    provider,
    ops: HEAP_OPS.filter((o) => ops.has(o)),
    trainingOnly: HEAP_OPS.filter((o) => trainingOnly.has(o)),
  };
}
