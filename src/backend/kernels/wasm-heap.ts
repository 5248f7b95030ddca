/**
 * What the native kernels need from tfjs-backend-wasm's `BackendWasm` (public members), and the
 * registration helper they share: a native kernel replaces (or adds) a kernel on the wasm backend
 * and remembers what was there so that switching native kernels off restores it.
 */
import { tf } from '../tf.js';

/** The public parts of `BackendWasm` native kernels use. */
export interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  getMemoryOffset(dataId: tf.DataId): number;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Offset of a float32 tensor on the heap, in floats. */
export function floatOffset(backend: WasmBackend, t: tf.TensorInfo): number {
  return backend.getMemoryOffset(t.dataId) / 4;
}

/** The heap buffer; read it after every allocation (a heap growth detaches the previous one). */
export function heapOf(backend: WasmBackend): ArrayBufferLike {
  return backend.wasm.HEAPU8.buffer;
}

/** A kernel on the wasm backend that can be swapped in and out. */
export class WasmKernelSwap {
  private saved: tf.KernelConfig | null | undefined;
  constructor(readonly kernelName: string) {}

  /** Registers `kernelFunc` (built from the kernel it replaces, if any) in place of the current one. */
  install(make: (previous: tf.KernelFunc | null) => tf.KernelFunc): string {
    this.uninstall();
    const previous = tf.getKernel(this.kernelName, 'wasm') ?? null;
    if (previous) tf.unregisterKernel(this.kernelName, 'wasm');
    this.saved = previous;
    tf.registerKernel({
      kernelName: this.kernelName,
      backendName: 'wasm',
      kernelFunc: make(previous?.kernelFunc ?? null),
    });
    return this.kernelName;
  }

  /** Puts back what {@link install} replaced (or removes an added kernel). */
  uninstall(): void {
    if (this.saved === undefined) return;
    tf.unregisterKernel(this.kernelName, 'wasm');
    if (this.saved) tf.registerKernel(this.saved);
    this.saved = undefined;
  }
}
