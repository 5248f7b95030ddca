/**
 * A linear layer with one LoRA adapter as one kernel on the wasm backend when native kernels are
 * active: `y = x·Wᵀ + bias + hs·Bᵀ` with `hs = s·x·Aᵀ`. Composed from ops it costs five kernels
 * forward (two products for the base with its bias Add, two rank-r products, the scaling Multiply
 * and the Add) and, backward, the Multiply's gradient and an Add of the two input gradients: each
 * extra kernel a pass over `[rows, out]` or `[rows, in]`. Fused, the scaling moves onto the rank-r
 * intermediate and both sums accumulate inside the BLAS calls (`beta = 1`).
 *
 * The gradient is registered per input (TensorFlow.js calls only the ones the tape needs), so an
 * input that needs no gradient, such as the first block's input, costs no product.
 */
import { tf, type Tensor } from '../tf.js';
import { floatOffset, heapOf, WasmKernelSwap, type WasmBackend } from './wasm-heap.js';

const FORWARD = 'AdapterkitLoraLinear';
const BACKWARD = 'AdapterkitLoraLinearGrad';
const forwardSwap = new WasmKernelSwap(FORWARD);
const backwardSwap = new WasmKernelSwap(BACKWARD);
let registered = false;

/** The addon functions this op calls (native/adapterkit_native.c documents their arithmetic). */
export interface LoraLinearKernels {
  /** `y = x·Wᵀ + bias + hs·Bᵀ`, `hs = s·x·Aᵀ`; `bias` −1 for none; offsets in floats. */
  loraLinear(
    heap: ArrayBufferLike,
    x: number,
    w: number,
    bias: number,
    a: number,
    b: number,
    y: number,
    hs: number,
    rows: number,
    inF: number,
    outF: number,
    r: number,
    scaling: number,
  ): void;
  /** `dx = dy·W + (s·dy·B)·A`, `dA = (s·dy·B)ᵀ·x`, `dB = dyᵀ·hs`, each only where its offset is ≥ 0. */
  loraLinearGrad(
    heap: ArrayBufferLike,
    dy: number,
    x: number,
    w: number,
    a: number,
    b: number,
    hs: number,
    dx: number,
    da: number,
    db: number,
    rows: number,
    inF: number,
    outF: number,
    r: number,
    scaling: number,
  ): void;
}

type Info = tf.TensorInfo;
type Wrt = 'x' | 'a' | 'b';
interface ForwardArgs {
  inputs: { x: Info; w: Info; bias?: Info; a: Info; b: Info };
  backend: WasmBackend;
  attrs: { scaling: number };
}
interface BackwardArgs {
  inputs: { dy: Info; x: Info; w: Info; a: Info; b: Info; hs: Info };
  backend: WasmBackend;
  attrs: { scaling: number; wrt: Wrt };
}

/** The gradient, once per process (gradients are global in TensorFlow.js, not per backend). */
function registerGradientOnce(): void {
  if (tf.getGradient(FORWARD)) return;
  tf.registerGradient({
    kernelName: FORWARD,
    inputsToSave: ['x', 'w', 'a', 'b'],
    outputsToSave: [false, true],
    gradFunc: (dys, saved, attrs) => {
      const dy = Array.isArray(dys) ? dys[0]! : dys;
      const [x, w, a, b, hs] = saved as [Tensor, Tensor, Tensor, Tensor, Tensor];
      const { scaling } = attrs as unknown as { scaling: number };
      const grad = (wrt: Wrt) => () =>
        tf.engine().runKernel(BACKWARD, { dy, x, w, a, b, hs }, { scaling, wrt }) as Tensor;
      // No entries for w and bias: the fused path runs only while they are frozen.
      return { x: grad('x'), a: grad('a'), b: grad('b') };
    },
  });
}

/** Registers the two kernels on the wasm backend; returns their names. */
export function registerLoraLinear(lib: LoraLinearKernels): string[] {
  registerGradientOnce();
  forwardSwap.install(
    () =>
      (({ inputs: { x, w, bias, a, b }, backend, attrs }: ForwardArgs) => {
        const [rows, inF] = x.shape as [number, number];
        const outF = w.shape[0]!;
        const r = a.shape[0]!;
        const y = backend.makeOutput([rows, outF], 'float32');
        const hs = backend.makeOutput([rows, r], 'float32');
        const off = (t: Info) => floatOffset(backend, t);
        lib.loraLinear(
          heapOf(backend),
          off(x),
          off(w),
          bias ? off(bias) : -1,
          off(a),
          off(b),
          off(y),
          off(hs),
          rows,
          inF,
          outF,
          r,
          attrs.scaling,
        );
        return [y, hs];
      }) as unknown as tf.KernelFunc,
  );
  backwardSwap.install(
    () =>
      (({ inputs: { dy, x, w, a, b, hs }, backend, attrs }: BackwardArgs) => {
        const [rows, inF] = x.shape as [number, number];
        const outF = w.shape[0]!;
        const r = a.shape[0]!;
        const { wrt, scaling } = attrs;
        const out = backend.makeOutput([...{ x, a, b }[wrt].shape], 'float32');
        const off = (t: Info) => floatOffset(backend, t);
        const at = (which: Wrt) => (wrt === which ? off(out) : -1);
        lib.loraLinearGrad(
          heapOf(backend),
          off(dy),
          off(x),
          off(w),
          off(a),
          off(b),
          off(hs),
          at('x'),
          at('a'),
          at('b'),
          rows,
          inF,
          outF,
          r,
          scaling,
        );
        return out;
      }) as unknown as tf.KernelFunc,
  );
  registered = true;
  return [FORWARD, BACKWARD];
}

/** Removes the two kernels. */
export function unregisterLoraLinear(): void {
  forwardSwap.uninstall();
  backwardSwap.uninstall();
  registered = false;
}

/** True when the fused kernels are registered and the wasm backend is the active one. */
export function loraLinearFusable(): boolean {
  return registered && tf.getBackend() === 'wasm';
}

/**
 * `x·Wᵀ + bias + s·(x·Aᵀ)·Bᵀ` for `x [..., in]`, `W [out, in]`, `A [r, in]`, `B [out, r]`, all
 * float32, through the fused kernels (only while {@link loraLinearFusable}). `W` and `bias` must be
 * frozen: they get no gradient.
 */
export function fusedLoraLinear(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  a: Tensor,
  b: Tensor,
  scaling: number,
): Tensor {
  const inF = w.shape[1]!;
  const outF = w.shape[0]!;
  return tf.tidy(() => {
    const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, inF]);
    const inputs: tf.NamedTensorMap = bias ? { x: x2, w, bias, a, b } : { x: x2, w, a, b };
    const [y] = tf.engine().runKernel(FORWARD, inputs, { scaling }) as Tensor[];
    return x.rank === 2 ? y! : tf.reshape(y!, [...x.shape.slice(0, -1), outF]);
  });
}
