import { afterEach, describe, expect, it } from 'vitest';
import { tf } from '../../../src/backend/tf.js';
import {
  floatOffset,
  heapOf,
  WasmKernelSwap,
  type WasmBackend,
} from '../../../src/backend/kernels/wasm-heap.js';

const NAME = 'AdapterkitTestSwap';
const run = (x: tf.Tensor) => tf.engine().runKernel(NAME, { x }) as tf.Tensor;
/** A kernel that returns x's first value plus `add`, as a scalar. */
const kernel =
  (add: number): tf.KernelFunc =>
  (args) => {
    const backend = args.backend as unknown as WasmBackend;
    const x = (args.inputs as { x: tf.TensorInfo }).x;
    const out = backend.makeOutput([], 'float32');
    backend.typedArrayFromHeap(out)[0] = backend.typedArrayFromHeap(x)[0]! + add;
    return out;
  };

afterEach(() => {
  if (tf.getKernel(NAME, 'wasm')) tf.unregisterKernel(NAME, 'wasm');
});

describe('wasm heap helpers', () => {
  it('floatOffset is the byte offset in floats, and heapOf the current heap buffer', () => {
    const backend = tf.backend() as unknown as WasmBackend;
    const x = tf.tensor1d([1.5, 2.5, 3.5]);
    const off = floatOffset(backend, x);
    expect(off * 4).toBe(backend.getMemoryOffset(x.dataId));
    expect(heapOf(backend)).toBe(backend.wasm.HEAPU8.buffer);
    expect(new Float32Array(heapOf(backend), off * 4, 3)).toEqual(new Float32Array([1.5, 2.5, 3.5]));
    x.dispose();
  });

  it('WasmKernelSwap adds a kernel and removes it again; over an existing one it wraps and then restores it', () => {
    const swap = new WasmKernelSwap(NAME);
    const x = tf.tensor1d([10]);
    let seen: tf.KernelFunc | null | undefined;
    expect(swap.install((prev) => ((seen = prev), kernel(1)))).toBe(NAME);
    expect(seen).toBeNull();
    expect(run(x).dataSync()[0]).toBe(11);
    swap.uninstall();
    expect(tf.getKernel(NAME, 'wasm')).toBeUndefined();

    tf.registerKernel({ kernelName: NAME, backendName: 'wasm', kernelFunc: kernel(100) });
    swap.install((prev) => (args) => {
      const viaPrevious = prev!(args) as tf.TensorInfo;
      return viaPrevious;
    });
    expect(run(x).dataSync()[0]).toBe(110); // the replacement called the kernel it replaced
    swap.install(() => kernel(2)); // installing again replaces the replacement, not the original
    expect(run(x).dataSync()[0]).toBe(12);
    swap.uninstall();
    swap.uninstall(); // nothing installed: no change
    expect(run(x).dataSync()[0]).toBe(110);
    x.dispose();
  });
});
