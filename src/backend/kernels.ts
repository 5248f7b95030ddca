/**
 * Replacements for TensorFlow.js ops whose gradients are slow or missing on the wasm backend
 * (measured in TFJS-NOTES): the built-in matMul gradient uses `transposeA/B` flags, which run
 * 10–50× slower than a matMul after an explicit `tf.transpose`; `gather` has no gradient kernel
 * on wasm (UnsortedSegmentSum is missing).
 *
 * With native kernels active (the BLAS runs every matMul, see native.ts) transposes are free BLAS
 * flags, so the products pass `transposeA/B` instead of materialising a transposed copy.
 */
import { tf, type Tensor } from './tf.js';
import { nativeKernelsActive } from './native.js';

type Save = (ts: Tensor[]) => void;
type GradResult = { value: Tensor; gradFunc: (dy: Tensor, saved: Tensor[]) => Tensor[] };

/** `tf.customGrad` with the argument types spelled out (its own typing collapses them to a union). */
function customGrad1(f: (a: Tensor, save: Save) => GradResult): (a: Tensor) => Tensor {
  return tf.customGrad(f as any) as unknown as (a: Tensor) => Tensor;
}
function customGrad2(f: (a: Tensor, b: Tensor, save: Save) => GradResult): (a: Tensor, b: Tensor) => Tensor {
  return tf.customGrad(f as any) as unknown as (a: Tensor, b: Tensor) => Tensor;
}

/** Swaps the last two axes. */
export function transposeLast2(t: Tensor): Tensor {
  const r = t.rank;
  if (r === 2) return tf.transpose(t);
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(t, perm);
}

const matMulFast = customGrad2((a, b, save) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: Tensor, saved: Tensor[]) => {
      const [sa, sb] = saved as [Tensor, Tensor];
      if (nativeKernelsActive()) return [tf.matMul(dy, sb, false, true), tf.matMul(sa, dy, true, false)];
      return [tf.matMul(dy, transposeLast2(sb)), tf.matMul(transposeLast2(sa), dy)];
    },
  };
});

/**
 * `a · b` for rank-2 or equal-rank batched operands, with a gradient built from explicit
 * transposes (fast on wasm).
 */
export function matMul(a: Tensor, b: Tensor): Tensor {
  return matMulFast(a, b);
}

/**
 * `x · Wᵀ` for `x [..., in]` and `W [out, in]` (PyTorch's layout). Flattens leading axes so the
 * product is one 2-D matMul. When `W` is a frozen variable, its gradient is never computed.
 */
export function matMulWeightT(x: Tensor, w: Tensor): Tensor {
  const inF = w.shape[1]!;
  const outF = w.shape[0]!;
  const lead = x.shape.slice(0, -1);
  const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, inF]);
  let y: Tensor;
  if ((w as tf.Variable).trainable === false) {
    // Frozen weight: differentiate with respect to x only (adapter-only training skips dW).
    const f = customGrad1((xi) => ({
      value: xWeightT(xi, w),
      gradFunc: (dy) => [tf.matMul(dy, w)],
    }));
    y = f(x2);
  } else {
    y = linearFast(x2, w);
  }
  return x.rank === 2 ? y : tf.reshape(y, [...lead, outF]);
}

/** `x·Wᵀ`, untaped. */
function xWeightT(x: Tensor, w: Tensor): Tensor {
  return nativeKernelsActive() ? tf.matMul(x, w, false, true) : tf.matMul(x, tf.transpose(w));
}

const linearFast = customGrad2((x, w, save) => {
  save([x, w]);
  return {
    value: xWeightT(x, w),
    gradFunc: (dy: Tensor, saved: Tensor[]) => {
      const [sx, sw] = saved as [Tensor, Tensor];
      const dw = nativeKernelsActive() ? tf.matMul(dy, sx, true, false) : tf.matMul(tf.transpose(dy), sx);
      return [tf.matMul(dy, sw), dw];
    },
  };
});

/**
 * Row lookup `table[ids]` with a gradient that works on every backend: the gradient of the
 * table is `oneHot(ids)ᵀ · dy`, a matMul, instead of wasm's missing UnsortedSegmentSum.
 */
export function embeddingLookup(ids: Tensor, table: Tensor): Tensor {
  const num = table.shape[0]!;
  const dim = table.shape[1]!;
  const flat = tf.reshape(ids, [-1]).toInt();
  const f = customGrad1((t, save) => {
    save([flat]); // kept alive until the backward pass
    return {
      value: tf.gather(t, flat),
      gradFunc: (dy, [ids]) => {
        const oneHot = tf.oneHot(ids!, num).toFloat();
        const dy2 = tf.reshape(dy, [-1, dim]);
        return [nativeKernelsActive() ? tf.matMul(oneHot, dy2, true, false) : tf.matMul(tf.transpose(oneHot), dy2)];
      },
    };
  });
  return tf.reshape(f(table), [...ids.shape, dim]);
}

/**
 * Rows of `x` reordered by the permutation `perm` (`y[i] = x[perm[i]]`). The gradient is the inverse
 * permutation of `dy`, a gather too, so it works where gather's own gradient kernel is missing.
 */
export function permuteRows(x: Tensor, perm: readonly number[]): Tensor {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  const f = customGrad1((t, save) => {
    const fwd = tf.tensor1d(perm as number[], 'int32');
    const bwd = tf.tensor1d(inv, 'int32');
    save([bwd]);
    const value = tf.gather(t, fwd);
    fwd.dispose();
    return { value, gradFunc: (dy, [b]) => [tf.gather(dy, b!)] };
  });
  return f(x);
}
