/**
 * A wasm kernel that splits `x [N, ...]` into N tensors with one heap copy each. wasm's `slice` (and
 * so `unstack`/`split`) copies the whole input per output, and `gather` costs ~60 ns per element; the
 * attention's batched products on plain wasm split their operands with this (see batched-mat-mul.ts).
 */
import { tf, type Tensor } from '../tf.js';
import type { WasmBackend } from './wasm-heap.js';

const KERNEL = 'AdapterkitUnstackLeading';

let available: boolean | undefined;

function unstackKernel({
  inputs,
  backend,
}: {
  inputs: { x: tf.TensorInfo };
  backend: WasmBackend;
}): tf.TensorInfo[] {
  const { x } = inputs;
  const rest = x.shape.slice(1);
  const size = rest.reduce((a, b) => a * b, 1);
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; i < x.shape[0]!; i++) {
    const out = backend.makeOutput(rest, x.dtype);
    // Views are taken after the allocation: a heap growth detaches earlier views.
    backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(x).subarray(i * size, (i + 1) * size));
    outs.push(out);
  }
  return outs;
}

/** True on the wasm backend once the kernel is registered (it registers itself on first use). */
export function canUnstackFromHeap(): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  if (available === undefined) {
    const be = tf.backend() as unknown as Partial<WasmBackend>;
    available = typeof be.makeOutput === 'function' && typeof be.typedArrayFromHeap === 'function';
    if (available && !tf.getKernel(KERNEL, 'wasm')) {
      tf.registerKernel({
        kernelName: KERNEL,
        backendName: 'wasm',
        kernelFunc: unstackKernel as unknown as tf.KernelFunc,
      });
    }
  }
  return available;
}

/** `x [N, ...]` → N tensors (untaped; only where {@link canUnstackFromHeap} is true). */
export function unstackFromHeap(x: Tensor): Tensor[] {
  return tf.engine().runKernel(KERNEL, { x }) as unknown as Tensor[];
}
