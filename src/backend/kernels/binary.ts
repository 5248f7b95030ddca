/**
 * `Add`, `Sub`, `Multiply` and `RealDiv` on the wasm backend, natively, for float32 operands whose
 * broadcast is a block pattern: same shapes, a bias over rows (`[N, F] + [F]`), a per-row value over
 * columns (`[N, F] − [N, 1]`, softmax's gradient), an attention mask over the batch
 * (`[B, H, T, T] + [1, 1, T, T]`), a scalar. wasm runs every broadcasting binary op as a scalar loop
 * with per-element index arithmetic; other patterns and dtypes go to the backend's own kernels.
 */
import { tf } from '../tf.js';
import type { NativeAddon } from '../native.js';
import { floatOffset, heapOf, WasmKernelSwap, type WasmBackend } from './wasm-heap.js';

interface Args {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  backend: WasmBackend;
}

const OPS = [
  ['Add', 0],
  ['Sub', 1],
  ['Multiply', 2],
  ['RealDiv', 3],
] as const;
const swaps = OPS.map(([name]) => new WasmKernelSwap(name));

/** `[outer stride, inner stride]` of an operand of (padded) shape `s` at split `k`, or null. */
function strides(s: number[], out: number[], k: number, inner: number): [number, number] | null {
  const eq = (from: number, to: number) => s.slice(from, to).every((d, i) => d === out[from + i]);
  const ones = (from: number, to: number) => s.slice(from, to).every((d) => d === 1);
  if (eq(0, out.length)) return [inner, 1];
  if (ones(0, out.length)) return [0, 0];
  if (eq(0, k) && ones(k, out.length)) return [1, 0];
  if (ones(0, k) && eq(k, out.length)) return [0, 1];
  return null;
}

/** The block pattern of `a op b`: `[outer, inner, aOuter, aInner, bOuter, bInner]`, or null. */
export function broadcastPattern(aShape: number[], bShape: number[], out: number[]): number[] | null {
  const r = out.length;
  const pad = (s: number[]) => [...Array(r - s.length).fill(1), ...s];
  const [a, b] = [pad(aShape), pad(bShape)];
  for (let k = 0; k <= r; k++) {
    const inner = out.slice(k).reduce((x, y) => x * y, 1);
    const outer = out.slice(0, k).reduce((x, y) => x * y, 1);
    const sa = strides(a, out, k, inner);
    const sb = strides(b, out, k, inner);
    if (sa && sb) return [outer, inner, ...sa, ...sb];
  }
  return null;
}

function makeKernel(lib: NativeAddon, op: number, fallback: tf.KernelFunc): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend } = args;
    const { a, b } = inputs;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args as unknown as Parameters<tf.KernelFunc>[0]);
    const out = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const pattern = broadcastPattern(a.shape, b.shape, out);
    if (!pattern) return fallback(args as unknown as Parameters<tf.KernelFunc>[0]);
    const y = backend.makeOutput(out, 'float32');
    const [outer, inner, ao, ai, bo, bi] = pattern as [number, number, number, number, number, number];
    if (outer * inner === 0) return y;
    lib.binary(heapOf(backend), op, floatOffset(backend, a), floatOffset(backend, b), floatOffset(backend, y), outer, inner, ao, ai, bo, bi);
    return y;
  }) as unknown as tf.KernelFunc;
}

/** Replaces the four wasm kernels; returns their names. */
export function registerNativeBinary(lib: NativeAddon): string[] {
  return OPS.map(([name, op], i) =>
    swaps[i]!.install((previous) => {
      if (!previous) throw new Error(`the wasm backend has no ${name} kernel to replace`);
      return makeKernel(lib, op, previous);
    }),
  );
}

/** Puts the wasm backend's own kernels back. */
export function unregisterNativeBinary(): void {
  for (const s of swaps) s.uninstall();
}
