/**
 * The fused kernels in plain JavaScript (kernels/js-heap-kernels.ts) for the wasm backend when the
 * native addon is not active: browsers, and Node without a C compiler or OpenBLAS (or with
 * `ADAPTERKIT_NATIVE=0`). Only the ops whose JavaScript kernels measured faster than TensorFlow.js's
 * own decomposition are registered ({@link JS_KERNEL_OPS}; `bench/js-kernels.ts`).
 */
import { registerHeapKernels, unregisterHeapKernels } from './fused-kernels.js';
import { activeHeapKernels, type HeapOp } from './kernels/heap-kernels.js';
import { jsHeapKernels } from './kernels/js-heap-kernels.js';

/** Environment variable (Node): `0` keeps TensorFlow.js's own kernels where the JavaScript ones would run. */
export const JS_KERNELS_ENV_VAR = 'ADAPTERKIT_JS_KERNELS';

/**
 * The ops whose JavaScript kernels are registered on wasm without the native addon: the ones measured
 * faster than TensorFlow.js's decomposition at the bench model's shapes (forward + backward, README
 * "Benchmarks"; `npx tsx bench/js-kernels.ts`). Measured and left out: `adamw` (as fast as the
 * tensor formulation, 0.88–1.18×) and `softmaxGrad` (1.3–2.1× slower than wasm's SIMD kernels).
 */
export const JS_KERNEL_OPS: readonly HeapOp[] = Object.freeze([
  'gelu',
  'layerNorm',
  'sum',
  'gather',
  'crossEntropy',
] as const);

/**
 * Ops of {@link JS_KERNEL_OPS} whose JavaScript kernels are used only while a gradient is recorded
 * (training): their forward alone is slower than TensorFlow.js's (SIMD wasm), forward and backward
 * together are faster, so inference keeps TensorFlow.js's kernels.
 */
export const JS_TRAINING_ONLY_OPS: readonly HeapOp[] = Object.freeze(['layerNorm'] as const);

/**
 * Registers the JavaScript fused kernels of {@link JS_KERNEL_OPS} (or `ops`) on the wasm backend,
 * unless native kernels are registered (they win) or this is turned off (`enabled: false`, or
 * `ADAPTERKIT_JS_KERNELS=0` when `enabled` is not given), in which case JavaScript kernels registered
 * before are removed. Returns the ops now running as JavaScript kernels.
 */
export function activateJsKernels(opts: { enabled?: boolean; ops?: readonly HeapOp[] } = {}): HeapOp[] {
  if (activeHeapKernels().provider === 'native') return [];
  const off =
    opts.enabled === false ||
    (opts.enabled === undefined && globalThis.process?.env?.[JS_KERNELS_ENV_VAR] === '0');
  if (off) {
    unregisterHeapKernels('js');
    return [];
  }
  registerHeapKernels(jsHeapKernels, 'js', opts.ops ?? JS_KERNEL_OPS, JS_TRAINING_ONLY_OPS);
  return activeHeapKernels().ops;
}
