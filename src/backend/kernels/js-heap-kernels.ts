/**
 * The fused kernels of {@link HeapKernels} in plain JavaScript, on the wasm backend's heap: what
 * browsers, and Node without the native addon, run instead of TensorFlow.js's decompositions into
 * many scalar wasm kernels. Same arithmetic as native/adapterkit_native.c; JavaScript computes in
 * double and rounds once per stored value (the C code accumulates in double where it matters).
 *
 * Every call builds its views from the heap it is handed: the caller re-reads the heap after each
 * allocation (a heap growth detaches the previous buffer), so no view may outlive a call.
 */
import type { HeapKernels } from './heap-kernels.js';

/** A kernel with the native addon's signature (kernels/heap-kernels.ts). */
type Kernel<K extends keyof HeapKernels> = NonNullable<HeapKernels[K]>;

/** `2^k` for k in [−{@link POW2_BIAS}, {@link POW2_BIAS}), for {@link fastExp}. */
const POW2_BIAS = 200;
const POW2 = Float64Array.from({ length: 2 * POW2_BIAS }, (_, i) => Math.pow(2, i - POW2_BIAS));

/**
 * `exp(x)` within 1e-8 relative (finer than float32's rounding, like C's `expf`): `2^k · e^r` with
 * k = round(x·log2 e), |r| ≤ ln2/2, and e^r by its degree-7 Taylor polynomial (Estrin's scheme).
 * V8's `Math.exp` is a call into C++ that costs about three times as much per element.
 */
export function fastExp(x: number): number {
  const t = x * Math.LOG2E;
  if (t < -190) return 0;
  if (t > 190) return Infinity;
  const k = Math.floor(t + 0.5);
  const r = (t - k) * Math.LN2;
  const r2 = r * r;
  const p =
    1 + r + r2 * (0.5 + r * (1 / 6)) + r2 * r2 * (1 / 24 + r * (1 / 120) + r2 * (1 / 720 + r * (1 / 5040)));
  return POW2[k + POW2_BIAS]! * p;
}

/** Φ and φ are tabulated on [−{@link CDF_RANGE}, {@link CDF_RANGE}] at {@link CDF_STEPS} points per unit. */
const CDF_RANGE = 8;
const CDF_STEPS = 512;
const INV_SQRT_2PI = 0.3989422804014327;
/** Φ(−8), the table's first value. */
const CDF_AT_MINUS_RANGE = 6.22096057427178e-16;
let cdfTable: Float64Array | null = null;
let pdfTable: Float64Array | null = null;

/** Builds the tables once: φ exactly, Φ by summing Simpson's rule over each interval (error ~1e-15). */
function normalTables(): [Float64Array, Float64Array] {
  if (cdfTable && pdfTable) return [cdfTable, pdfTable];
  const n = 2 * CDF_RANGE * CDF_STEPS + 2;
  const pdf = (x: number) => INV_SQRT_2PI * Math.exp(-0.5 * x * x);
  const cdf = new Float64Array(n);
  const dens = new Float64Array(n);
  const h = 1 / CDF_STEPS;
  const q = h / 4;
  let acc = CDF_AT_MINUS_RANGE;
  for (let i = 0; i < n; i++) {
    const x = -CDF_RANGE + i * h;
    cdf[i] = acc;
    dens[i] = pdf(x);
    // Composite Simpson over [x, x + h] with four panels of width q.
    acc += (q / 3) * (pdf(x) + 4 * pdf(x + q) + 2 * pdf(x + 2 * q) + 4 * pdf(x + 3 * q) + pdf(x + h));
  }
  cdfTable = cdf;
  pdfTable = dens;
  return [cdf, dens];
}

/**
 * Exact GELU `x·Φ(x)` and its derivative `Φ(x) + x·φ(x)` over `n` floats, writing whichever of `y`
 * and `d` is ≥ 0. Φ and φ come from tables with linear interpolation: absolute error ≤ 1.2e-7 for Φ
 * (as the erf formula of TensorFlow.js and the native kernel, 1.5e-7) and ≤ 2e-7 for φ, at a third
 * of the cost of an exp per element; outside ±8, Φ is 0 or 1 and φ is 0 (below float32's precision).
 */
function geluPass(h: Float32Array, x: number, y: number, d: number, n: number): void {
  const [cdfT, pdfT] = normalTables();
  for (let i = 0; i < n; i++) {
    const xi = h[x + i]!;
    let cdf = 0;
    let pdf = 0;
    if (xi >= CDF_RANGE) cdf = 1;
    else if (xi > -CDF_RANGE) {
      const u = (xi + CDF_RANGE) * CDF_STEPS;
      const k = Math.floor(u);
      const f = u - k;
      const c = cdfT[k]!;
      cdf = c + (cdfT[k + 1]! - c) * f;
      const p = pdfT[k]!;
      pdf = p + (pdfT[k + 1]! - p) * f;
    } else if (xi !== xi) cdf = NaN;
    if (y >= 0) h[y + i] = xi * cdf;
    if (d >= 0) h[d + i] = cdf + xi * pdf;
  }
}

const gelu: Kernel<'gelu'> = (heap, x, y, n) => {
  geluPass(new Float32Array(heap), x, y, -1, n);
};

const geluWithDerivative: Kernel<'geluWithDerivative'> = (heap, x, y, d, n) => {
  geluPass(new Float32Array(heap), x, y, d, n);
};

const geluGrad: Kernel<'geluGrad'> = (heap, x, dy, dx, n) => {
  const h = new Float32Array(heap);
  geluPass(h, x, -1, dx, n);
  for (let i = 0; i < n; i++) h[dx + i] = h[dx + i]! * h[dy + i]!;
};

/** `Σ h[from .. from+n)` in four independent partial sums (faster, and no less accurate than one). */
function rowSum(h: Float32Array, from: number, n: number): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let j = from;
  const end = from + n;
  for (; j + 4 <= end; j += 4) {
    a += h[j]!;
    b += h[j + 1]!;
    c += h[j + 2]!;
    d += h[j + 3]!;
  }
  for (; j < end; j++) a += h[j]!;
  return a + b + c + d;
}

const sum: Kernel<'sum'> = (heap, x, out, outer, inner, leading) => {
  const h = new Float32Array(heap);
  if (leading) {
    // Column sums, row by row (sequential reads).
    const acc = new Float64Array(inner);
    for (let i = 0; i < outer; i++) {
      const row = x + i * inner;
      for (let j = 0; j < inner; j++) acc[j] += h[row + j]!;
    }
    for (let j = 0; j < inner; j++) h[out + j] = acc[j]!;
  } else {
    for (let i = 0; i < outer; i++) {
      const row = x + i * inner;
      h[out + i] = rowSum(h, row, inner);
    }
  }
};

const adamw: Kernel<'adamw'> = (
  heap,
  p,
  g,
  m,
  v,
  pOut,
  mOut,
  vOut,
  n,
  decay,
  beta1,
  beta2,
  eps,
  stepSize,
  sqrtBiasCorrection2,
  sign,
) => {
  const h = new Float32Array(heap);
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  for (let i = 0; i < n; i++) {
    const gi = h[g + i]! * sign;
    const mi = h[m + i]! * beta1 + gi * c1;
    const vi = h[v + i]! * beta2 + gi * gi * c2;
    h[mOut + i] = mi;
    h[vOut + i] = vi;
    h[pOut + i] = h[p + i]! * decay - (mi / (Math.sqrt(vi) / sqrtBiasCorrection2 + eps)) * stepSize;
  }
};

const gatherRows: Kernel<'gatherRows'> = (heap, x, indices, out, rows, rowLen, count) => {
  const idx = new Int32Array(heap);
  for (let i = 0; i < count; i++) {
    const r = idx[indices + i]!;
    if (r < 0 || r >= rows) return i;
  }
  // Rows of 4-byte values, float32 or int32 alike: copy them as raw 32-bit words.
  for (let i = 0; i < count; i++) {
    const from = x + idx[indices + i]! * rowLen;
    idx.copyWithin(out + i * rowLen, from, from + rowLen);
  }
  return -1;
};

const layerNorm: Kernel<'layerNorm'> = (heap, x, gamma, beta, y, mean, rstd, rows, f, eps) => {
  const h = new Float32Array(heap);
  for (let r = 0; r < rows; r++) {
    const xr = x + r * f;
    const yr = y + r * f;
    let s = 0;
    for (let j = 0; j < f; j++) s += h[xr + j]!;
    const mu = f ? s / f : 0;
    let ss = 0;
    for (let j = 0; j < f; j++) {
      const c = h[xr + j]! - mu;
      ss += c * c;
    }
    const m = Math.fround(mu);
    const rs = Math.fround(1 / Math.sqrt((f ? ss / f : 0) + eps));
    for (let j = 0; j < f; j++) h[yr + j] = (h[xr + j]! - m) * rs * h[gamma + j]! + h[beta + j]!;
    h[mean + r] = m;
    h[rstd + r] = rs;
  }
};

const layerNormGrad: Kernel<'layerNormGrad'> = (
  heap,
  dy,
  x,
  gamma,
  mean,
  rstd,
  dx,
  dgamma,
  dbeta,
  rows,
  f,
  params,
) => {
  const h = new Float32Array(heap);
  const dg = params ? new Float64Array(f) : null;
  const db = params ? new Float64Array(f) : null;
  for (let r = 0; r < rows; r++) {
    const dyr = dy + r * f;
    const xr = x + r * f;
    const dxr = dx + r * f;
    const m = h[mean + r]!;
    const rs = h[rstd + r]!;
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < f; j++) {
      const g = h[dyr + j]! * h[gamma + j]!;
      sg += g;
      sgx += g * (h[xr + j]! - m) * rs;
    }
    const mg = f ? sg / f : 0;
    const mgx = f ? sgx / f : 0;
    for (let j = 0; j < f; j++) {
      const xh = (h[xr + j]! - m) * rs;
      h[dxr + j] = rs * (h[dyr + j]! * h[gamma + j]! - mg - xh * mgx);
    }
    if (dg && db) {
      for (let j = 0; j < f; j++) {
        const d = h[dyr + j]!;
        dg[j] += d * (h[xr + j]! - m) * rs;
        db[j] += d;
      }
    }
  }
  if (dg && db) {
    for (let j = 0; j < f; j++) {
      h[dgamma + j] = dg[j]!;
      h[dbeta + j] = db[j]!;
    }
  }
};

const softmaxXent: Kernel<'softmaxXent'> = (heap, logits, ids, nll, lse, rows, classes) => {
  const h = new Float32Array(heap);
  const id = new Int32Array(heap);
  for (let r = 0; r < rows; r++) if (id[ids + r]! >= classes) return r;
  for (let r = 0; r < rows; r++) {
    const xr = logits + r * classes;
    let mx = h[xr]!;
    for (let j = 1; j < classes; j++) if (h[xr + j]! > mx) mx = h[xr + j]!;
    let s = 0;
    for (let j = 0; j < classes; j++) s += fastExp(h[xr + j]! - mx);
    const l = mx + Math.log(s);
    const target = id[ids + r]!;
    h[lse + r] = l;
    h[nll + r] = target < 0 ? 0 : l - h[xr + target]!;
  }
  return -1;
};

const softmaxXentGrad: Kernel<'softmaxXentGrad'> = (heap, logits, ids, lse, dy, dx, rows, classes) => {
  const h = new Float32Array(heap);
  const id = new Int32Array(heap);
  for (let r = 0; r < rows; r++) {
    const xr = logits + r * classes;
    const dxr = dx + r * classes;
    const target = id[ids + r]!;
    if (target < 0 || target >= classes) {
      h.fill(0, dxr, dxr + classes);
      continue;
    }
    const l = h[lse + r]!;
    const d = h[dy + r]!;
    for (let j = 0; j < classes; j++) h[dxr + j] = d * fastExp(h[xr + j]! - l);
    h[dxr + target] = h[dxr + target]! - d;
  }
};

const softmaxGrad: Kernel<'softmaxGrad'> = (heap, y, dy, dx, rows, cols) => {
  const h = new Float32Array(heap);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = 0;
    for (let j = 0; j < cols; j++) s += h[dy + o + j]! * h[y + o + j]!;
    for (let j = 0; j < cols; j++) h[dx + o + j] = h[y + o + j]! * (h[dy + o + j]! - s);
  }
};

/** The JavaScript implementations, with the native addon's signatures. */
export const jsHeapKernels: HeapKernels = {
  gelu,
  geluGrad,
  geluWithDerivative,
  sum,
  adamw,
  gatherRows,
  layerNorm,
  layerNormGrad,
  softmaxXent,
  softmaxXentGrad,
  softmaxGrad,
};
