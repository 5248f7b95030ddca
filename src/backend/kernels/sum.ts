/**
 * `Sum` on the wasm backend, natively, when the reduced axes are a leading or a trailing block of a
 * float32 tensor: bias gradients (sum over batch and time), LayerNorm and softmax gradient sums.
 * wasm's own Sum first transposes the reduced axes to the end, then runs a scalar loop. Other forms
 * go to the backend's own kernel. The JavaScript kernel takes leading blocks only (measured: wasm's own
 * row sums are faster than a JavaScript loop; its column sums are not).
 */
import { tf } from '../tf.js';
import type { HeapKernels } from './heap-kernels.js';
import { floatOffset, heapOf, WasmKernelSwap, type WasmBackend } from './wasm-heap.js';

interface Args {
  inputs: { x: tf.TensorInfo };
  backend: WasmBackend;
  attrs: { axis: number | number[]; keepDims: boolean };
}

const swap = new WasmKernelSwap('Sum');

function makeKernel(lib: HeapKernels, fallback: tf.KernelFunc, trailingToo: boolean): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs;
    const rank = x.shape.length;
    const axes = [
      ...new Set((Array.isArray(attrs.axis) ? attrs.axis : [attrs.axis]).map((a) => (a < 0 ? a + rank : a))),
    ].sort((a, b) => a - b);
    const size = x.shape.reduce((a, b) => a * b, 1);
    const contiguous = axes.every((a, i) => i === 0 || a === axes[i - 1]! + 1);
    const leading = axes[0] === 0;
    const trailing = axes.at(-1) === rank - 1;
    if (
      x.dtype !== 'float32' ||
      size === 0 ||
      axes.length === 0 ||
      !contiguous ||
      !(leading || (trailing && trailingToo))
    ) {
      return fallback(args as unknown as Parameters<tf.KernelFunc>[0]);
    }
    const reduced = axes.reduce((p, a) => p * x.shape[a]!, 1);
    const kept = size / reduced;
    const shape = attrs.keepDims
      ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
      : x.shape.filter((_, i) => !axes.includes(i));
    const out = backend.makeOutput(shape, 'float32');
    // A leading block sums [reduced, kept] over its rows; a trailing block [kept, reduced] over its columns.
    const [outer, inner] = leading ? [reduced, kept] : [kept, reduced];
    lib.sum(
      heapOf(backend),
      floatOffset(backend, x),
      floatOffset(backend, out),
      outer,
      inner,
      leading ? 1 : 0,
    );
    return out;
  }) as unknown as tf.KernelFunc;
}

/**
 * Replaces the wasm backend's `Sum` with `lib`'s for leading blocks of axes, and for trailing ones
 * too unless `trailing` is false; returns the kernel name.
 */
export function registerNativeSum(
  lib: HeapKernels,
  { trailing = true }: { trailing?: boolean } = {},
): string {
  return swap.install((previous) => {
    if (!previous) throw new Error('the wasm backend has no Sum kernel to replace');
    return makeKernel(lib, previous, trailing);
  });
}

/** Puts the wasm backend's own `Sum` back. */
export function unregisterNativeSum(): void {
  swap.uninstall();
}
