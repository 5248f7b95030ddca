/**
 * Softmax cross-entropy per row as two native kernels on the wasm backend, and the differentiable op
 * that uses them. The tensor formulation (max, shift, exp, sum, log, a one-hot product, weights)
 * costs about a dozen kernels forward and twenty backward over `[rows, classes]`, several of them
 * broadcasting (slow scalar loops on wasm; max's gradient alone runs an Equal); the native kernels
 * make one pass each way and never build the one-hot matrix.
 */
import { tf, type Tensor } from '../tf.js';
import type { HeapKernels } from './heap-kernels.js';
import { customGrad1, type SaveForBackward } from './custom-grad.js';
import { floatOffset, heapOf, WasmKernelSwap, type WasmBackend } from './wasm-heap.js';

const FORWARD = 'AdapterkitSoftmaxXent';
const BACKWARD = 'AdapterkitSoftmaxXentGrad';
const forwardSwap = new WasmKernelSwap(FORWARD);
const backwardSwap = new WasmKernelSwap(BACKWARD);

type KernelArgs<I> = { inputs: I; backend: WasmBackend };
type Info = tf.TensorInfo;

/** Registers the two kernels on the wasm backend; returns their names. */
export function registerNativeCrossEntropy(lib: HeapKernels): string[] {
  forwardSwap.install(
    () =>
      (({ inputs: { logits, ids }, backend }: KernelArgs<{ logits: Info; ids: Info }>) => {
        const [rows, classes] = logits.shape as [number, number];
        const nll = backend.makeOutput([rows], 'float32');
        const lse = backend.makeOutput([rows], 'float32');
        if (rows > 0) {
          const [lo, io, no, so] = [logits, ids, nll, lse].map((t) => floatOffset(backend, t)) as number[];
          const bad = lib.softmaxXent(heapOf(backend), lo!, io!, no!, so!, rows, classes);
          if (bad >= 0) {
            const disposer = backend as unknown as { disposeData(id: tf.DataId): void };
            disposer.disposeData(nll.dataId);
            disposer.disposeData(lse.dataId);
            throw new Error(
              `softmax cross-entropy: the class id at row ${bad} is not in [0, ${classes - 1}]`,
            );
          }
        }
        return [nll, lse];
      }) as unknown as tf.KernelFunc,
  );
  backwardSwap.install(
    () =>
      (({
        inputs: { logits, ids, lse, dy },
        backend,
      }: KernelArgs<{ logits: Info; ids: Info; lse: Info; dy: Info }>) => {
        const [rows, classes] = logits.shape as [number, number];
        const dx = backend.makeOutput([rows, classes], 'float32');
        if (rows * classes > 0) {
          const offs = [logits, ids, lse, dy, dx].map((t) => floatOffset(backend, t)) as number[];
          lib.softmaxXentGrad(
            heapOf(backend),
            offs[0]!,
            offs[1]!,
            offs[2]!,
            offs[3]!,
            offs[4]!,
            rows,
            classes,
          );
        }
        return dx;
      }) as unknown as tf.KernelFunc,
  );
  return [FORWARD, BACKWARD];
}

/** Removes the two kernels. */
export function unregisterNativeCrossEntropy(): void {
  forwardSwap.uninstall();
  backwardSwap.uninstall();
}

/**
 * `logsumexp(logits[i]) − logits[i, ids[i]]` for `logits [N, C]` (float32) and int32 `ids [N]`, 0
 * where `ids[i] < 0` (excluded positions, no gradient). Differentiable with respect to `logits`
 * (only while the kernels are registered).
 */
export function nativeSoftmaxCrossEntropy(logits: Tensor, ids: Tensor): Tensor {
  const op = customGrad1((x: Tensor, save: SaveForBackward) => {
    const [nll, lse] = tf.engine().runKernel(FORWARD, { logits: x, ids }) as Tensor[];
    save([x, lse!, ids]);
    return {
      value: nll!,
      gradFunc: (dy: Tensor, [sx, sl, si]: Tensor[]) => [
        tf.engine().runKernel(BACKWARD, { logits: sx!, ids: si!, lse: sl!, dy }),
      ],
    };
  });
  return op(logits);
}
