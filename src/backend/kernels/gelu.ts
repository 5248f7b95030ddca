/**
 * Exact GELU forward and backward as two native kernels on the wasm backend, and the differentiable
 * op that uses them. On wasm the formula `0.5·x·(1 + erf(x/√2))` costs an Erf, three Multiplies and
 * an Add forward, and an Exp plus several elementwise ops backward, each a pass over the FFN
 * activations; the native kernels make one pass each.
 */
import { tf, type Tensor } from '../tf.js';
import type { NativeAddon } from '../native.js';
import { customGrad1, type SaveForBackward } from './custom-grad.js';
import { floatOffset, heapOf, WasmKernelSwap, type WasmBackend } from './wasm-heap.js';

const FORWARD = 'AdapterkitGelu';
const BACKWARD = 'AdapterkitGeluGrad';
const forwardSwap = new WasmKernelSwap(FORWARD);
const backwardSwap = new WasmKernelSwap(BACKWARD);

type KernelArgs<I> = { inputs: I; backend: WasmBackend };

/** Registers the two kernels on the wasm backend; returns their names. */
export function registerNativeGelu(lib: NativeAddon): string[] {
  forwardSwap.install(
    () =>
      (({ inputs: { x }, backend }: KernelArgs<{ x: tf.TensorInfo }>) => {
        const out = backend.makeOutput([...x.shape], 'float32');
        const n = x.shape.reduce((a, b) => a * b, 1);
        if (n > 0) lib.gelu(heapOf(backend), floatOffset(backend, x), floatOffset(backend, out), n);
        return out;
      }) as unknown as tf.KernelFunc,
  );
  backwardSwap.install(
    () =>
      (({ inputs: { x, dy }, backend }: KernelArgs<{ x: tf.TensorInfo; dy: tf.TensorInfo }>) => {
        const out = backend.makeOutput([...x.shape], 'float32');
        const n = x.shape.reduce((a, b) => a * b, 1);
        if (n > 0) {
          lib.geluGrad(
            heapOf(backend),
            floatOffset(backend, x),
            floatOffset(backend, dy),
            floatOffset(backend, out),
            n,
          );
        }
        return out;
      }) as unknown as tf.KernelFunc,
  );
  return [FORWARD, BACKWARD];
}

/** Removes the two kernels. */
export function unregisterNativeGelu(): void {
  forwardSwap.uninstall();
  backwardSwap.uninstall();
}

const geluOp = customGrad1((x: Tensor, save: SaveForBackward) => {
  save([x]);
  return {
    value: tf.engine().runKernel(FORWARD, { x }) as Tensor,
    gradFunc: (dy: Tensor, [sx]: Tensor[]) => [tf.engine().runKernel(BACKWARD, { x: sx!, dy }) as Tensor],
  };
});

/** Exact GELU through the native kernels (float32 only; only while they are registered). */
export function nativeGelu(x: Tensor): Tensor {
  return geluOp(x.dtype === 'float32' ? x : tf.cast(x, 'float32'));
}
