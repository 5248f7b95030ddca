/**
 * `[N, m, k] × [N, k, n]` products (attention's scores and context) as N fast 2-D products on wasm.
 * Not the `BatchMatMul` kernel itself: with native kernels active that one runs on the BLAS
 * (batch-mat-mul.ts), and this op then makes one batched matMul with transposes as BLAS flags.
 *
 * Formulation, measured on wasm (2-core EPYC, Node 20, tfjs 4.22) for B=16, H=4, T=128, dk=64, causal
 * mask, forward+backward of the attention core softmax(QKᵀ/√dk)·V; medians of 7, three runs on a shared
 * machine (absolute times moved ~2× with load; the ordering never changed):
 *   rank-4 `kernels.matMul` [B,H,T,dk]                        685–1241 ms
 *   rank-3 `kernels.matMul` [B·H,T,dk]                        877–1052 ms
 *   rank-3 built-in `tf.matMul(q, k, false, true)`            954–1023 ms
 *   per-matrix 2-D matMuls after `tf.unstack`                 378–1686 ms
 *   per-matrix 2-D matMuls after a heap-copy unstack (used)   122–241 ms (forward alone 38–67 ms)
 * Why: wasm routes a matMul to XNNPACK only when both operands have batch 1 and no transpose flag;
 * every batched product runs a scalar loop (~1.4 GFLOP/s whatever the rank or flags). Splitting
 * into 2-D products is fast, but wasm's `slice` (and so `unstack`/`split`) copies the whole input
 * per output, and `gather` costs ~60 ns per element, so the split uses a small registered kernel
 * that copies each matrix straight out of the wasm heap (unstack-leading.ts).
 */
import { tf, type Tensor } from '../tf.js';
import { check } from '../../errors.js';
import { nativeKernelsActive } from '../native.js';
import { customGrad2 } from './custom-grad.js';
import { transposeLast2 } from './transpose-last2.js';
import { canUnstackFromHeap, unstackFromHeap } from './unstack-leading.js';

/**
 * Below this many multiply-adds per matrix product, per-op overhead beats XNNPACK's speed-up
 * (measured crossover on wasm: about 24³; 32³ runs 2× faster per matrix, 8³ 20× slower).
 */
const MIN_WORK_PER_PRODUCT = 16384;

/** Untaped `a·b` for `[N,m,k]×[N,k,n]`: N 2-D products on wasm when worthwhile, else one batched op. */
function batchedProduct(a: Tensor, b: Tensor): Tensor {
  const [n, m, k] = a.shape as [number, number, number];
  const p = b.shape[2]!;
  if (nativeKernelsActive() || n === 1 || m * k * p < MIN_WORK_PER_PRODUCT || !canUnstackFromHeap())
    return tf.matMul(a, b);
  return tf.tidy(() => {
    const as = unstackFromHeap(a);
    const bs = unstackFromHeap(b);
    const outs = as.map((ai, i) => tf.matMul(ai, bs[i]!));
    return tf.reshape(tf.concat(outs, 0), [n, m, p]);
  });
}

const batchedMatMulGrad = customGrad2((a, b, save) => {
  save([a, b]);
  return {
    value: batchedProduct(a, b),
    gradFunc: (dy: Tensor, saved: Tensor[]) => {
      const [sa, sb] = saved as [Tensor, Tensor];
      // The BLAS takes transposes as flags; wasm is fast only on untransposed 2-D products.
      if (nativeKernelsActive()) return [tf.matMul(dy, sb, false, true), tf.matMul(sa, dy, true, false)];
      return [batchedProduct(dy, transposeLast2(sb)), batchedProduct(transposeLast2(sa), dy)];
    },
  };
});

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * `a · b` for rank-3 operands `[N, m, k] × [N, k, n]` → `[N, m, n]`, differentiable.
 *
 * On wasm the product (and each gradient product, built with explicit transposes) runs as N
 * XNNPACK 2-D matMuls instead of the backend's scalar batched kernel: about 5× faster at
 * attention shapes (see the timings at the top of this file). Other backends use `tf.matMul`.
 */
export function batchedMatMul(a: Tensor, b: Tensor): Tensor {
  check(
    a.rank === 3 && b.rank === 3 && a.shape[0] === b.shape[0] && a.shape[2] === b.shape[1],
    'INVALID_INPUT',
    () => `batchedMatMul: expected [N, m, k] × [N, k, n], got ${fmt(a.shape)} × ${fmt(b.shape)}`,
  );
  return batchedMatMulGrad(a, b);
}
