/**
 * LayerNorm over the last axis as two native kernels on the wasm backend, and the differentiable op
 * that uses them. The tensor formulation costs nine kernels forward (two Means, Sub, Square, Add,
 * Rsqrt, two Multiplies, Add) and about twenty backward, each a pass over the activations, several of
 * them broadcasting (slow scalar loops on wasm); the native kernels make one row-wise pass each way.
 */
import { tf, type Tensor } from '../tf.js';
import type { HeapKernels } from './heap-kernels.js';
import { customGrad3, type SaveForBackward } from './custom-grad.js';
import { floatOffset, heapOf, WasmKernelSwap, type WasmBackend } from './wasm-heap.js';

const FORWARD = 'AdapterkitLayerNorm';
const BACKWARD = 'AdapterkitLayerNormGrad';
const forwardSwap = new WasmKernelSwap(FORWARD);
const backwardSwap = new WasmKernelSwap(BACKWARD);

type KernelArgs<I, A = Record<string, never>> = { inputs: I; backend: WasmBackend; attrs: A };
type Info = tf.TensorInfo;

const rowsOf = (x: Info) => x.shape.slice(0, -1).reduce((a, b) => a * b, 1);

/** Registers the two kernels on the wasm backend; returns their names. */
export function registerNativeLayerNorm(lib: HeapKernels): string[] {
  forwardSwap.install(
    () =>
      (({
        inputs: { x, gamma, beta },
        backend,
        attrs,
      }: KernelArgs<{ x: Info; gamma: Info; beta: Info }, { eps: number }>) => {
        const rows = rowsOf(x);
        const f = x.shape.at(-1)!;
        const y = backend.makeOutput([...x.shape], 'float32');
        const mean = backend.makeOutput([rows], 'float32');
        const rstd = backend.makeOutput([rows], 'float32');
        if (rows * f > 0) {
          const [xo, go, bo, yo, mo, ro] = [x, gamma, beta, y, mean, rstd].map((t) =>
            floatOffset(backend, t),
          ) as number[];
          lib.layerNorm(heapOf(backend), xo!, go!, bo!, yo!, mo!, ro!, rows, f, attrs.eps);
        }
        return [y, mean, rstd];
      }) as unknown as tf.KernelFunc,
  );
  backwardSwap.install(
    () =>
      (({
        inputs: { dy, x, gamma, mean, rstd },
        backend,
        attrs,
      }: KernelArgs<{ dy: Info; x: Info; gamma: Info; mean: Info; rstd: Info }, { params: boolean }>) => {
        const rows = rowsOf(x);
        const f = x.shape.at(-1)!;
        const dx = backend.makeOutput([...x.shape], 'float32');
        const dgamma = backend.makeOutput([f], 'float32');
        const dbeta = backend.makeOutput([f], 'float32');
        if (rows * f > 0) {
          const offs = [dy, x, gamma, mean, rstd, dx, dgamma, dbeta].map((t) =>
            floatOffset(backend, t),
          ) as number[];
          lib.layerNormGrad(
            heapOf(backend),
            ...(offs as [number, number, number, number, number, number, number, number]),
            rows,
            f,
            attrs.params ? 1 : 0,
          );
        } else if (f > 0) {
          backend.typedArrayFromHeap(dgamma).fill(0);
          backend.typedArrayFromHeap(dbeta).fill(0);
        }
        return [dx, dgamma, dbeta];
      }) as unknown as tf.KernelFunc,
  );
  return [FORWARD, BACKWARD];
}

/** Removes the two kernels. */
export function unregisterNativeLayerNorm(): void {
  forwardSwap.uninstall();
  backwardSwap.uninstall();
}

const engine = () => tf.engine();

/**
 * `(x − μ)/√(σ² + eps)·γ + β` over the last axis (biased variance) through the native kernels
 * (float32; only while they are registered). When γ and β are frozen variables their gradients
 * are not accumulated.
 */
export function nativeLayerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  const params = (gamma as tf.Variable).trainable !== false || (beta as tf.Variable).trainable !== false;
  const op = customGrad3((xi: Tensor, g: Tensor, b: Tensor, save: SaveForBackward) => {
    const [y, mean, rstd] = engine().runKernel(FORWARD, { x: xi, gamma: g, beta: b }, { eps }) as Tensor[];
    save([xi, g, mean!, rstd!]);
    return {
      value: y!,
      gradFunc: (dy: Tensor, [sx, sg, sm, sr]: Tensor[]) =>
        engine().runKernel(
          BACKWARD,
          { dy, x: sx!, gamma: sg!, mean: sm!, rstd: sr! },
          { params },
        ) as Tensor[],
    };
  });
  const f32 = (t: Tensor) => (t.dtype === 'float32' ? t : tf.cast(t, 'float32'));
  return op(f32(x), f32(gamma), f32(beta));
}
