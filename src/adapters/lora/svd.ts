/**
 * Truncated SVD of a low-rank product, in float64 JavaScript (TensorFlow.js has no SVD). Used by
 * `addWeightedAdapter({combinationType: 'svd'})`, where the matrix to decompose is `P·Q` with thin
 * factors (`P [m, R]`, `Q [R, n]`, R = sum of the source ranks): QR of both factors reduces the
 * problem to an R×R SVD, which is exact, not iterative over the full matrix.
 */

/** Row-major dense matrix. */
interface Mat {
  rows: number;
  cols: number;
  data: Float64Array;
}

const mat = (rows: number, cols: number): Mat => ({ rows, cols, data: new Float64Array(rows * cols) });

/** Thin QR by Gram–Schmidt with one re-orthogonalisation pass; columns of (near) zero norm stay zero. */
function thinQr(a: Mat): { q: Mat; r: Mat } {
  const { rows: m, cols: c } = a;
  const q = mat(m, c);
  const r = mat(c, c);
  const col = new Float64Array(m);
  let scale = 0;
  for (let i = 0; i < a.data.length; i++) scale = Math.max(scale, Math.abs(a.data[i]!));
  const tiny = scale * 1e-13 * Math.max(m, c);
  for (let j = 0; j < c; j++) {
    for (let i = 0; i < m; i++) col[i] = a.data[i * c + j]!;
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        let dot = 0;
        for (let i = 0; i < m; i++) dot += q.data[i * c + k]! * col[i]!;
        r.data[k * c + j]! += dot;
        for (let i = 0; i < m; i++) col[i]! -= dot * q.data[i * c + k]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += col[i]! * col[i]!;
    norm = Math.sqrt(norm);
    if (norm > tiny) {
      r.data[j * c + j] = norm;
      for (let i = 0; i < m; i++) q.data[i * c + j] = col[i]! / norm;
    }
  }
  return { q, r };
}

/** One-sided Jacobi SVD of a small matrix with rows ≥ cols: `a = U·diag(s)·Vᵀ`. */
function jacobiSvd(a: Mat): { u: Mat; s: Float64Array; v: Mat } {
  const { rows: m, cols: n } = a;
  const u: Mat = { rows: m, cols: n, data: Float64Array.from(a.data) };
  const v = mat(n, n);
  for (let i = 0; i < n; i++) v.data[i * n + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let i = 0; i < n - 1; i++) {
      for (let j = i + 1; j < n; j++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let k = 0; k < m; k++) {
          const ui = u.data[k * n + i]!;
          const uj = u.data[k * n + j]!;
          alpha += ui * ui;
          beta += uj * uj;
          gamma += ui * uj;
        }
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        off = Math.max(off, Math.abs(gamma) / Math.sqrt(alpha * beta));
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const cs = 1 / Math.sqrt(1 + t * t);
        const sn = cs * t;
        for (let k = 0; k < m; k++) {
          const ui = u.data[k * n + i]!;
          const uj = u.data[k * n + j]!;
          u.data[k * n + i] = cs * ui - sn * uj;
          u.data[k * n + j] = sn * ui + cs * uj;
        }
        for (let k = 0; k < n; k++) {
          const vi = v.data[k * n + i]!;
          const vj = v.data[k * n + j]!;
          v.data[k * n + i] = cs * vi - sn * vj;
          v.data[k * n + j] = sn * vi + cs * vj;
        }
      }
    }
    if (off < 1e-15) break;
  }
  const s = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let norm = 0;
    for (let k = 0; k < m; k++) norm += u.data[k * n + j]! ** 2;
    norm = Math.sqrt(norm);
    s[j] = norm;
    if (norm > 0) for (let k = 0; k < m; k++) u.data[k * n + j]! /= norm;
  }
  return { u, s, v };
}

function matmul(a: Mat, b: Mat, transposeB = false): Mat {
  const n = transposeB ? b.rows : b.cols;
  const inner = a.cols;
  const out = mat(a.rows, n);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < inner; k++)
        sum += a.data[i * inner + k]! * (transposeB ? b.data[j * b.cols + k]! : b.data[k * b.cols + j]!);
      out.data[i * n + j] = sum;
    }
  }
  return out;
}

function transpose(a: Mat): Mat {
  const out = mat(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++)
    for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.data[i * a.cols + j]!;
  return out;
}

/**
 * Best rank-`k` factorisation of `P·Q` (`P [m, R]`, `Q [R, n]`, row-major): returns
 * `us = U_k·diag(S_k)` `[m, k]` and `vt = V_kᵀ` `[k, n]`, singular values in descending order.
 * When `k` exceeds the rank, the extra columns/rows are zero (their product adds nothing).
 */
export function lowRankSvd(
  p: Float64Array,
  m: number,
  r: number,
  q: Float64Array,
  n: number,
  k: number,
): { us: Float32Array; vt: Float32Array; singularValues: number[] } {
  const qrP = thinQr({ rows: m, cols: r, data: p });
  const qrQ = thinQr(transpose({ rows: r, cols: n, data: q }));
  const core = matmul(qrP.r, qrQ.r, true); // R×R: P·Q = Qp·core·Qqᵀ
  const { u, s, v } = jacobiSvd(core);
  const order = [...s.keys()].sort((a, b) => s[b]! - s[a]!);
  const uFull = matmul(qrP.q, u); // m×R
  const vFull = matmul(qrQ.q, v); // n×R
  const us = new Float32Array(m * k);
  const vt = new Float32Array(k * n);
  for (let c = 0; c < Math.min(k, order.length); c++) {
    const j = order[c]!;
    const sigma = s[j]!;
    if (sigma === 0) continue;
    for (let i = 0; i < m; i++) us[i * k + c] = uFull.data[i * r + j]! * sigma;
    for (let i = 0; i < n; i++) vt[c * n + i] = vFull.data[i * r + j]!;
  }
  return { us, vt, singularValues: order.map((j) => s[j]!) };
}
