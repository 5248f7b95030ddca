/**
 * One AdamW update of a parameter as a single native pass on the wasm backend: new parameter, first
 * and second moments from the old ones and the gradient. The tensor formulation costs about twelve
 * elementwise kernels (each a pass over the parameter) per parameter per step. Same order of
 * operations as `torch.optim.AdamW` (see train/adamw.ts); amsgrad stays on the tensor path.
 */
import { tf, type Tensor } from '../tf.js';
import type { HeapKernels } from './heap-kernels.js';
import { floatOffset, heapOf, WasmKernelSwap, type WasmBackend } from './wasm-heap.js';

const KERNEL = 'AdapterkitAdamW';
const swap = new WasmKernelSwap(KERNEL);

/** Hyper-parameters of one update, already combined for this step. */
export interface AdamWUpdateAttrs {
  /** `1 − lr·weightDecay`. */
  decay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** `lr / (1 − β1^t)`. */
  stepSize: number;
  /** `√(1 − β2^t)`. */
  sqrtBiasCorrection2: number;
  /** −1 to maximise. */
  sign: number;
}

type Inputs = { param: tf.TensorInfo; grad: tf.TensorInfo; m: tf.TensorInfo; v: tf.TensorInfo };

/** Registers the kernel on the wasm backend; returns its name. */
export function registerNativeAdamW(lib: HeapKernels): string {
  return swap.install(
    () =>
      (({ inputs, backend, attrs }: { inputs: Inputs; backend: WasmBackend; attrs: AdamWUpdateAttrs }) => {
        const { param, grad, m, v } = inputs;
        const outs = [param, m, v].map((t) => backend.makeOutput([...t.shape], 'float32'));
        const n = param.shape.reduce((a, b) => a * b, 1);
        if (n > 0) {
          const [po, mo, vo] = outs.map((t) => floatOffset(backend, t)) as [number, number, number];
          const [pi, gi, mi, vi] = [param, grad, m, v].map((t) => floatOffset(backend, t)) as [
            number,
            number,
            number,
            number,
          ];
          lib.adamw(
            heapOf(backend),
            pi,
            gi,
            mi,
            vi,
            po,
            mo,
            vo,
            n,
            attrs.decay,
            attrs.beta1,
            attrs.beta2,
            attrs.eps,
            attrs.stepSize,
            attrs.sqrtBiasCorrection2,
            attrs.sign,
          );
        }
        return outs;
      }) as unknown as tf.KernelFunc,
  );
}

/** Removes the kernel. */
export function unregisterNativeAdamW(): void {
  swap.uninstall();
}

/** `[param', m', v']` for one AdamW step (untaped; only while the kernel is registered). */
export function nativeAdamWUpdate(
  param: Tensor,
  grad: Tensor,
  m: Tensor,
  v: Tensor,
  attrs: AdamWUpdateAttrs,
): [Tensor, Tensor, Tensor] {
  const g = grad.dtype === 'float32' ? grad : tf.cast(grad, 'float32');
  return tf
    .engine()
    .runKernel(KERNEL, { param, grad: g, m, v }, attrs as unknown as tf.NamedAttrMap) as unknown as [
    Tensor,
    Tensor,
    Tensor,
  ];
}
