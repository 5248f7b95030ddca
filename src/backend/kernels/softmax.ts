/**
 * Softmax over the last axis with a native backward on the wasm backend. TensorFlow.js's softmax
 * gradient is four kernels over the attention scores (two Multiplies, a Sum and a broadcasting Sub,
 * a scalar loop on wasm); the native backward is one row-wise pass. The forward stays wasm's own
 * `Softmax` kernel (measured: as fast as a native loop).
 */
import { tf, type Tensor } from '../tf.js';
import { heapKernelActive, type HeapKernels } from './heap-kernels.js';
import { customGrad1, type SaveForBackward } from './custom-grad.js';
import { floatOffset, heapOf, WasmKernelSwap, type WasmBackend } from './wasm-heap.js';

const BACKWARD = 'AdapterkitSoftmaxGrad';
const backwardSwap = new WasmKernelSwap(BACKWARD);

type KernelArgs<I> = { inputs: I; backend: WasmBackend };
type Info = tf.TensorInfo;

const rowsAndCols = (x: Info): [number, number] => {
  const cols = x.shape.at(-1) ?? 1;
  return [x.shape.slice(0, -1).reduce((a, b) => a * b, 1), cols];
};

/** Registers the backward kernel on the wasm backend; returns its name. */
export function registerNativeSoftmax(lib: HeapKernels): string[] {
  backwardSwap.install(
    () =>
      (({ inputs: { y, dy }, backend }: KernelArgs<{ y: Info; dy: Info }>) => {
        const dx = backend.makeOutput([...y.shape], 'float32');
        const [rows, cols] = rowsAndCols(y);
        if (rows * cols > 0) {
          lib.softmaxGrad(
            heapOf(backend),
            floatOffset(backend, y),
            floatOffset(backend, dy),
            floatOffset(backend, dx),
            rows,
            cols,
          );
        }
        return dx;
      }) as unknown as tf.KernelFunc,
  );
  return [BACKWARD];
}

/** Removes the kernel. */
export function unregisterNativeSoftmax(): void {
  backwardSwap.uninstall();
}

const softmaxOp = customGrad1((x: Tensor, save: SaveForBackward) => {
  const y = tf.engine().runKernel('Softmax', { logits: x }, { dim: x.rank - 1 }) as Tensor;
  save([y]);
  return {
    value: y,
    gradFunc: (dy: Tensor, [sy]: Tensor[]) => [tf.engine().runKernel(BACKWARD, { y: sy!, dy }) as Tensor],
  };
});

/**
 * Softmax over the last axis: with the fused backward while it is registered on wasm (native or
 * JavaScript; float32 of rank ≥ 1), `tf.softmax` otherwise.
 */
export function softmaxLastAxis(x: Tensor): Tensor {
  if (heapKernelActive('softmaxGrad') && x.dtype === 'float32' && x.rank >= 1) return softmaxOp(x);
  return tf.softmax(x);
}
