/**
 * `BatchMatMul` on the wasm backend computed by the system BLAS (`cblas_sgemm`) through the native
 * addon: every matMul form (2-D, batched, a batch of 1 broadcast, transposed a and/or b) reads its
 * operands at their wasm-heap offsets and writes into an output the backend allocates, with no copy
 * and no explicit transpose. Forms it does not cover (non-float32, general batch broadcasting) go to
 * the backend's own kernel.
 */
import { tf } from '../tf.js';
import type { NativeAddon } from '../native.js';
import { floatOffset, heapOf, WasmKernelSwap, type WasmBackend } from './wasm-heap.js';

interface Args {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  backend: WasmBackend;
  attrs: { transposeA: boolean; transposeB: boolean };
}

const swap = new WasmKernelSwap('BatchMatMul');
const sizeOf = (shape: readonly number[]) => shape.reduce((x, y) => x * y, 1);

function makeKernel(lib: NativeAddon, fallback: tf.KernelFunc): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs;
    const ta = !!attrs.transposeA;
    const tb = !!attrs.transposeB;
    const ar = a.shape.length;
    const br = b.shape.length;
    const batchA = sizeOf(a.shape.slice(0, -2));
    const batchB = sizeOf(b.shape.slice(0, -2));
    if (
      a.dtype !== 'float32' ||
      b.dtype !== 'float32' ||
      (batchA !== batchB && batchA !== 1 && batchB !== 1)
    ) {
      return fallback(args as unknown as Parameters<tf.KernelFunc>[0]);
    }
    const m = ta ? a.shape[ar - 1]! : a.shape[ar - 2]!;
    const k = ta ? a.shape[ar - 2]! : a.shape[ar - 1]!;
    const kb = tb ? b.shape[br - 1]! : b.shape[br - 2]!;
    const n = tb ? b.shape[br - 2]! : b.shape[br - 1]!;
    tf.util.assert(
      k === kb,
      () =>
        `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${ta} and transposeB=${tb} must match.`,
    );
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const out = backend.makeOutput([...outer, m, n], 'float32');
    const batch = Math.max(batchA, batchB);
    if (batch * m * n === 0) return out;
    if (k === 0) {
      backend.typedArrayFromHeap(out).fill(0);
      return out;
    }
    const aOff = floatOffset(backend, a);
    const bOff = floatOffset(backend, b);
    const cOff = floatOffset(backend, out);
    const heap = heapOf(backend);
    if (batch > 1 && batchB === 1 && !ta) {
      // One shared right operand: the batch folds into the rows of a single product.
      lib.sgemm(heap, 1, false, tb, batch * m, n, k, aOff, 0, bOff, 0, cOff, 0);
    } else {
      const sa = batchA === 1 ? 0 : m * k;
      const sb = batchB === 1 ? 0 : k * n;
      lib.sgemm(heap, batch, ta, tb, m, n, k, aOff, sa, bOff, sb, cOff, m * n);
    }
    return out;
  }) as unknown as tf.KernelFunc;
}

/** Replaces the wasm backend's `BatchMatMul` with the BLAS one (idempotent); returns the kernel name. */
export function registerBlasBatchMatMul(lib: NativeAddon): string {
  return swap.install((previous) => {
    if (!previous) throw new Error('the wasm backend has no BatchMatMul kernel to replace');
    return makeKernel(lib, previous);
  });
}

/** Puts the wasm backend's own `BatchMatMul` back. */
export function unregisterBlasBatchMatMul(): void {
  swap.uninstall();
}
