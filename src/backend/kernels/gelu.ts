/**
 * Exact GELU forward and backward as two native kernels on the wasm backend, and the differentiable
 * op that uses them. On wasm the formula `0.5·x·(1 + erf(x/√2))` costs an Erf, three Multiplies and
 * an Add forward, and an Exp plus several elementwise ops backward, each a pass over the FFN
 * activations; the native kernels make one pass each. The JavaScript kernels also offer a forward
 * that writes `gelu'(x)` beside `gelu(x)` (both from one table lookup of Φ and φ), which training
 * uses so that the backward is one wasm Multiply instead of a second JavaScript pass.
 */
import { tf, type Tensor } from '../tf.js';
import type { HeapKernels } from './heap-kernels.js';
import { customGrad1, type SaveForBackward } from './custom-grad.js';
import { floatOffset, heapOf, WasmKernelSwap, type WasmBackend } from './wasm-heap.js';

const FORWARD = 'AdapterkitGelu';
const BACKWARD = 'AdapterkitGeluGrad';
const WITH_DERIVATIVE = 'AdapterkitGeluWithDerivative';
const forwardSwap = new WasmKernelSwap(FORWARD);
const backwardSwap = new WasmKernelSwap(BACKWARD);
const derivativeSwap = new WasmKernelSwap(WITH_DERIVATIVE);
let derivativeRegistered = false;

type KernelArgs<I> = { inputs: I; backend: WasmBackend };

/**
 * Registers the forward and backward kernels on the wasm backend, and the forward that also writes
 * the derivative when `lib` has one; returns their names.
 */
export function registerNativeGelu(lib: HeapKernels): string[] {
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
  derivativeSwap.uninstall();
  derivativeRegistered = false;
  const withDerivative = lib.geluWithDerivative?.bind(lib);
  if (!withDerivative) return [FORWARD, BACKWARD];
  derivativeSwap.install(
    () =>
      (({ inputs: { x }, backend }: KernelArgs<{ x: tf.TensorInfo }>) => {
        const y = backend.makeOutput([...x.shape], 'float32');
        const d = backend.makeOutput([...x.shape], 'float32');
        const n = x.shape.reduce((a, b) => a * b, 1);
        if (n > 0) {
          withDerivative(
            heapOf(backend),
            floatOffset(backend, x),
            floatOffset(backend, y),
            floatOffset(backend, d),
            n,
          );
        }
        return [y, d];
      }) as unknown as tf.KernelFunc,
  );
  derivativeRegistered = true;
  return [FORWARD, BACKWARD, WITH_DERIVATIVE];
}

/** Removes the kernels. */
export function unregisterNativeGelu(): void {
  forwardSwap.uninstall();
  backwardSwap.uninstall();
  derivativeSwap.uninstall();
  derivativeRegistered = false;
}

const geluOp = customGrad1((x: Tensor, save: SaveForBackward) => {
  save([x]);
  return {
    value: tf.engine().runKernel(FORWARD, { x }) as Tensor,
    gradFunc: (dy: Tensor, [sx]: Tensor[]) => [tf.engine().runKernel(BACKWARD, { x: sx!, dy }) as Tensor],
  };
});

/** Forward writes gelu'(x) too; the backward multiplies by it. */
const geluSavingDerivativeOp = customGrad1((x: Tensor, save: SaveForBackward) => {
  const [y, d] = tf.engine().runKernel(WITH_DERIVATIVE, { x }) as Tensor[];
  save([d!]);
  return {
    value: y!,
    gradFunc: (dy: Tensor, [sd]: Tensor[]) => [tf.mul(dy, sd!)],
  };
});

/**
 * Exact GELU through the fused kernels (float32 only; only while they are registered). While a
 * gradient is being recorded it uses the kernel that also writes the derivative, when registered.
 */
export function fusedGelu(x: Tensor): Tensor {
  const x32 = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
  return derivativeRegistered && tf.engine().isTapeOn() ? geluSavingDerivativeOp(x32) : geluOp(x32);
}
