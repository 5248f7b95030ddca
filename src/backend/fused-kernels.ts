/**
 * Registers the fused kernels of kernels/heap-kernels.ts on the wasm backend from one provider (the
 * native addon or plain JavaScript), op by op, and removes them. One provider at a time: registering
 * replaces whatever was there, so the native kernels win over the JavaScript ones when both can run.
 */
import { registerNativeGelu, unregisterNativeGelu } from './kernels/gelu.js';
import { registerNativeSum, unregisterNativeSum } from './kernels/sum.js';
import { registerNativeAdamW, unregisterNativeAdamW } from './kernels/adamw.js';
import { registerNativeGather, unregisterNativeGather } from './kernels/gather.js';
import { registerNativeLayerNorm, unregisterNativeLayerNorm } from './kernels/layer-norm.js';
import { registerNativeCrossEntropy, unregisterNativeCrossEntropy } from './kernels/cross-entropy.js';
import { registerNativeSoftmax, unregisterNativeSoftmax } from './kernels/softmax.js';
import {
  activeHeapKernels,
  HEAP_OPS,
  setActiveHeapKernels,
  type HeapKernelProvider,
  type HeapKernels,
  type HeapOp,
} from './kernels/heap-kernels.js';

const REGISTER: Record<HeapOp, (lib: HeapKernels, provider: HeapKernelProvider) => string | string[]> = {
  gelu: registerNativeGelu,
  layerNorm: registerNativeLayerNorm,
  // JavaScript row sums lose to wasm's own (README, "Benchmarks"); its column sums win.
  sum: (lib, provider) => registerNativeSum(lib, { trailing: provider === 'native' }),
  adamw: registerNativeAdamW,
  gather: registerNativeGather,
  crossEntropy: registerNativeCrossEntropy,
  softmaxGrad: registerNativeSoftmax,
};

const UNREGISTER: Record<HeapOp, () => void> = {
  gelu: unregisterNativeGelu,
  layerNorm: unregisterNativeLayerNorm,
  sum: unregisterNativeSum,
  adamw: unregisterNativeAdamW,
  gather: unregisterNativeGather,
  crossEntropy: unregisterNativeCrossEntropy,
  softmaxGrad: unregisterNativeSoftmax,
};

/**
 * Registers `ops` from `lib` on the wasm backend in place of any fused kernels registered before
 * (the others are removed), those of `trainingOnly` to be used only while a gradient is recorded;
 * returns the TensorFlow.js kernel names now registered.
 */
export function registerHeapKernels(
  lib: HeapKernels,
  provider: HeapKernelProvider,
  ops: readonly HeapOp[],
  trainingOnly: readonly HeapOp[] = [],
): string[] {
  unregisterHeapKernels();
  const names = HEAP_OPS.filter((op) => ops.includes(op)).flatMap((op) => REGISTER[op](lib, provider));
  setActiveHeapKernels(provider, ops, trainingOnly);
  return names;
}

/**
 * Removes the fused kernels (only when `provider` registered them, if given) and restores
 * TensorFlow.js's own.
 */
export function unregisterHeapKernels(provider?: HeapKernelProvider): void {
  if (provider !== undefined && activeHeapKernels().provider !== provider) return;
  for (const op of HEAP_OPS) UNREGISTER[op]();
  setActiveHeapKernels(null, []);
}
