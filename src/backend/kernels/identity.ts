/**
 * `Identity` on the wasm backend without a copy: the output shares the input's heap data (reference
 * counted), as the cpu and webgl backends already do. TensorFlow.js clones every tensor it saves for
 * the backward pass through Identity, and wasm's own kernel copies each one: about 400 copies per
 * training step of the bench model (7 % of the step with native matMuls). Tensors are immutable, so
 * sharing is safe. Pure TypeScript: it helps browsers as well.
 */
import type { tf } from '../tf.js';
import { WasmKernelSwap } from './wasm-heap.js';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

const swap = new WasmKernelSwap('Identity');

/** Replaces the wasm backend's `Identity` (idempotent); returns the kernel name. */
export function registerSharedIdentity(): string {
  return swap.install(
    (previous) =>
      ((args: { inputs: { x: tf.TensorInfo }; backend: RefCountingBackend }) => {
        const { x } = args.inputs;
        if (x.dtype === 'string' && previous)
          return previous(args as unknown as Parameters<tf.KernelFunc>[0]);
        args.backend.incRef(x.dataId);
        return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
      }) as unknown as tf.KernelFunc,
  );
}

/** Puts the wasm backend's own `Identity` back. */
export function unregisterSharedIdentity(): void {
  swap.uninstall();
}
