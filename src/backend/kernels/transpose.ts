/**
 * `Transpose` on the wasm backend, natively, for 4-byte dtypes up to rank 6: whole rows are copied
 * when the last axis stays last (attention's `[B, T, H, dk] → [B, H, T, dk]`), otherwise the
 * innermost output axis is a strided read. wasm's own kernel moves one element at a time.
 */
import { tf } from '../tf.js';
import type { NativeAddon } from '../native.js';
import { floatOffset, heapOf, WasmKernelSwap, type WasmBackend } from './wasm-heap.js';

interface Args {
  inputs: { x: tf.TensorInfo };
  backend: WasmBackend;
  attrs: { perm: number[] };
}

const swap = new WasmKernelSwap('Transpose');

function makeKernel(lib: NativeAddon, fallback: tf.KernelFunc): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs;
    const rank = x.shape.length;
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || rank < 1 || rank > 6) {
      return fallback(args as unknown as Parameters<tf.KernelFunc>[0]);
    }
    const perm = attrs.perm;
    const out = backend.makeOutput(
      perm.map((p) => x.shape[p]!),
      x.dtype,
    );
    if (x.shape.some((d) => d === 0)) return out;
    const dims = [...x.shape, ...Array(6 - rank).fill(1)];
    const p = [...perm, ...Array.from({ length: 6 - rank }, (_, i) => rank + i)];
    lib.transpose(heapOf(backend), floatOffset(backend, x), floatOffset(backend, out), rank, ...(dims as number[]), ...(p as number[]));
    return out;
  }) as unknown as tf.KernelFunc;
}

/** Replaces the wasm backend's `Transpose`; returns the kernel name. */
export function registerNativeTranspose(lib: NativeAddon): string {
  return swap.install((previous) => {
    if (!previous) throw new Error('the wasm backend has no Transpose kernel to replace');
    return makeKernel(lib, previous);
  });
}

/** Puts the wasm backend's own `Transpose` back. */
export function unregisterNativeTranspose(): void {
  swap.uninstall();
}
