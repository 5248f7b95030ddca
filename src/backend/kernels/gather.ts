/**
 * `GatherV2` on the wasm backend for the form embeddings use (rows of a float32 or int32 table along
 * axis 0, no batch dimensions): one native row copy per index. wasm's own kernel costs about 60 ns
 * per element (an embedding lookup of 2048 tokens × 256 features: ~30 ms). Other forms go to the
 * backend's own kernel. Indices outside the table are an error, as with the backend's kernel.
 */
import { tf } from '../tf.js';
import type { HeapKernels } from './heap-kernels.js';
import { floatOffset, heapOf, WasmKernelSwap, type WasmBackend } from './wasm-heap.js';

interface Args {
  inputs: { x: tf.TensorInfo; indices: tf.TensorInfo };
  backend: WasmBackend & { readSync(dataId: tf.DataId): ArrayLike<number> };
  attrs: { axis: number; batchDims: number };
}

const swap = new WasmKernelSwap('GatherV2');

function makeKernel(lib: HeapKernels, fallback: tf.KernelFunc): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend, attrs } = args;
    const { x, indices } = inputs;
    const axis = attrs.axis < 0 ? attrs.axis + x.shape.length : attrs.axis;
    if (
      axis !== 0 ||
      (attrs.batchDims ?? 0) !== 0 ||
      x.shape.length === 0 ||
      (x.dtype !== 'float32' && x.dtype !== 'int32') ||
      indices.dtype !== 'int32'
    ) {
      return fallback(args as unknown as Parameters<tf.KernelFunc>[0]);
    }
    const rows = x.shape[0]!;
    const rowShape = x.shape.slice(1);
    const rowLen = rowShape.reduce((a, b) => a * b, 1);
    const count = indices.shape.reduce((a, b) => a * b, 1);
    const out = backend.makeOutput([...indices.shape, ...rowShape], x.dtype);
    if (count === 0) return out;
    const bad = lib.gatherRows(
      heapOf(backend),
      floatOffset(backend, x),
      floatOffset(backend, indices),
      floatOffset(backend, out),
      rows,
      rowLen,
      count,
    );
    if (bad >= 0) {
      (backend as unknown as { disposeData(id: tf.DataId): void }).disposeData(out.dataId);
      const index = backend.readSync(indices.dataId)[bad];
      throw new Error(`GatherV2: the index value ${index} is not in [0, ${rows - 1}]`);
    }
    return out;
  }) as unknown as tf.KernelFunc;
}

/** Replaces the wasm backend's `GatherV2` with the native row copy; returns the kernel name. */
export function registerNativeGather(lib: HeapKernels): string {
  return swap.install((previous) => {
    if (!previous) throw new Error('the wasm backend has no GatherV2 kernel to replace');
    return makeKernel(lib, previous);
  });
}

/** Puts the wasm backend's own `GatherV2` back. */
export function unregisterNativeGather(): void {
  swap.uninstall();
}
