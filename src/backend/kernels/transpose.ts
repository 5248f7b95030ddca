/**
 * `Transpose` on the wasm backend by the native addon when the permutation exchanges two adjacent
 * groups of axes and keeps at least {@link MIN_BLOCK} values together at the end, e.g. attention's
 * head split and merge (`[0, 2, 1, 3]`): those blocks are copied whole, where the backend's own
 * kernel moves one value at a time (2.6× faster at attention's shapes). Narrower blocks (a 2-D
 * transpose, `[0, 2, 3, 1]`) ran no faster natively and stay on the backend's kernel, as do other
 * permutations and dtypes.
 */
import { tf } from '../tf.js';
import { floatOffset, heapOf, WasmKernelSwap, type WasmBackend } from './wasm-heap.js';

/** The addon function this kernel calls (native/adapterkit_native.c documents it). */
export interface SwapAxesKernel {
  /** `y[o, j, i, :] = x[o, i, j, :]` for x viewed `[outer, d1, d2, inner]` (4-byte values; offsets in elements). */
  swapAxes(
    heap: ArrayBufferLike,
    x: number,
    y: number,
    outer: number,
    d1: number,
    d2: number,
    inner: number,
  ): void;
}

interface Args {
  inputs: { x: tf.TensorInfo };
  backend: WasmBackend;
  attrs: { perm: number[] };
}

const swap = new WasmKernelSwap('Transpose');
/** Fewest values per moved block for the native copy. */
export const MIN_BLOCK = 8;
const product = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/**
 * `[outer, d1, d2, inner]` when `perm` keeps some leading and trailing axes in place and exchanges
 * the two adjacent groups between them (`[.., m..k−1, a..m−1, ..]`); null for any other permutation.
 */
export function swapAxesPlan(
  shape: readonly number[],
  perm: readonly number[],
): [number, number, number, number] | null {
  const n = perm.length;
  let k = n;
  while (k > 0 && perm[k - 1] === k - 1) k--;
  let a = 0;
  while (a < k && perm[a] === a) a++;
  if (a === k) return null; // the identity: nothing to exchange
  const m = perm[a]!;
  if (m <= a || m >= k) return null;
  for (let i = 0; i < k - m; i++) if (perm[a + i] !== m + i) return null;
  for (let i = 0; i < m - a; i++) if (perm[a + (k - m) + i] !== a + i) return null;
  return [
    product(shape.slice(0, a)),
    product(shape.slice(a, m)),
    product(shape.slice(m, k)),
    product(shape.slice(k)),
  ];
}

function makeKernel(lib: SwapAxesKernel, fallback: tf.KernelFunc): tf.KernelFunc {
  return ((args: Args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs;
    const plan = x.dtype === 'float32' || x.dtype === 'int32' ? swapAxesPlan(x.shape, attrs.perm) : null;
    if (!plan || plan[3] < MIN_BLOCK) return fallback(args as unknown as Parameters<tf.KernelFunc>[0]);
    const out = backend.makeOutput(
      attrs.perm.map((p) => x.shape[p]!),
      x.dtype,
    );
    if (product(x.shape) > 0) {
      lib.swapAxes(heapOf(backend), floatOffset(backend, x), floatOffset(backend, out), ...plan);
    }
    return out;
  }) as unknown as tf.KernelFunc;
}

/** Replaces the wasm backend's `Transpose` with the native one (idempotent); returns the kernel name. */
export function registerNativeTranspose(lib: SwapAxesKernel): string {
  return swap.install((previous) => {
    if (!previous) throw new Error('the wasm backend has no Transpose kernel to replace');
    return makeKernel(lib, previous);
  });
}

/** Puts the wasm backend's own `Transpose` back. */
export function unregisterNativeTranspose(): void {
  swap.uninstall();
}
