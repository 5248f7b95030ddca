/*
 * adapterkit's native kernels for Node: single-precision matrix products on the system BLAS,
 * run directly on the TensorFlow.js wasm backend's heap (an ArrayBuffer), so no tensor is copied.
 *
 * The BLAS is opened at load time with dlopen (OpenBLAS by default, or ADAPTERKIT_BLAS=<path>), so
 * the addon compiles with a C compiler and Node's own headers alone; without a BLAS it still loads
 * and reports why it cannot run (the library then stays on wasm).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>

/* CBLAS constants and the three entry points used (ABI-stable across BLAS libraries). */
enum { CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 };
typedef void (*sgemm_fn)(int order, int transA, int transB, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char *(*get_string_fn)(void);

static sgemm_fn blas_sgemm = NULL;
static set_threads_fn blas_set_threads = NULL;
static get_threads_fn blas_get_threads = NULL;
static get_string_fn blas_get_config = NULL;
static char blas_path[1024] = "";
static char blas_error[1024] = "";

static void open_blas(void) {
  const char *override = getenv("ADAPTERKIT_BLAS");
  const char *candidates[] = {override, "libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0"};
  void *lib = NULL;
  for (size_t i = 0; i < sizeof candidates / sizeof *candidates && !lib; i++) {
    if (!candidates[i] || !*candidates[i]) continue;
    lib = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib && i == 0) {
      snprintf(blas_error, sizeof blas_error, "ADAPTERKIT_BLAS=%s could not be opened: %s", override, dlerror());
      return;
    }
  }
  if (!lib) {
    snprintf(blas_error, sizeof blas_error, "no OpenBLAS shared library found (libopenblas.so.0)");
    return;
  }
  blas_sgemm = (sgemm_fn)dlsym(lib, "cblas_sgemm");
  if (!blas_sgemm) {
    snprintf(blas_error, sizeof blas_error, "the BLAS library has no cblas_sgemm");
    return;
  }
  blas_set_threads = (set_threads_fn)dlsym(lib, "openblas_set_num_threads");
  blas_get_threads = (get_threads_fn)dlsym(lib, "openblas_get_num_threads");
  blas_get_config = (get_string_fn)dlsym(lib, "openblas_get_config");
  Dl_info info;
  if (dladdr((void *)blas_sgemm, &info) && info.dli_fname) {
    char *real = realpath(info.dli_fname, NULL);
    snprintf(blas_path, sizeof blas_path, "%s", real ? real : info.dli_fname);
    free(real);
  }
}

#define CHECK(call)                                                  \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      napi_throw_error(env, NULL, "adapterkit native: " #call " failed"); \
      return NULL;                                                   \
    }                                                                \
  } while (0)

/*
 * sgemm(heap, batch, transA, transB, m, n, k, aOff, aStride, bOff, bStride, cOff, cStride)
 * Row-major C[i] = op(A[i])·op(B[i]) for i < batch; offsets and strides are in float elements,
 * a stride of 0 broadcasts one matrix over the batch. Bounds are checked against the heap.
 */
static napi_value sgemm(napi_env env, napi_callback_info cb) {
  size_t argc = 13;
  napi_value argv[13];
  CHECK(napi_get_cb_info(env, cb, &argc, argv, NULL, NULL));
  if (argc != 13) {
    napi_throw_type_error(env, NULL, "adapterkit native sgemm: expected 13 arguments");
    return NULL;
  }
  if (!blas_sgemm) {
    napi_throw_error(env, NULL, blas_error);
    return NULL;
  }
  void *heap;
  size_t heap_bytes;
  CHECK(napi_get_arraybuffer_info(env, argv[0], &heap, &heap_bytes));
  int64_t v[12];
  for (int i = 0; i < 12; i++) {
    if (i == 1 || i == 2) {
      bool flag;
      CHECK(napi_get_value_bool(env, argv[i + 1], &flag));
      v[i] = flag;
    } else {
      CHECK(napi_get_value_int64(env, argv[i + 1], &v[i]));
    }
  }
  int64_t batch = v[0], ta = v[1], tb = v[2], m = v[3], n = v[4], k = v[5];
  int64_t a_off = v[6], a_stride = v[7], b_off = v[8], b_stride = v[9], c_off = v[10], c_stride = v[11];
  if (batch <= 0 || m <= 0 || n <= 0 || k <= 0) return NULL; /* empty products are the caller's */
  int64_t floats = (int64_t)(heap_bytes / sizeof(float));
  int64_t last = batch - 1;
  if (a_off < 0 || b_off < 0 || c_off < 0 || a_stride < 0 || b_stride < 0 || c_stride < 0 ||
      a_off + last * a_stride + m * k > floats || b_off + last * b_stride + k * n > floats ||
      c_off + last * c_stride + m * n > floats || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) {
    napi_throw_range_error(env, NULL, "adapterkit native sgemm: operands outside the heap");
    return NULL;
  }
  float *base = (float *)heap;
  int lda = (int)(ta ? m : k), ldb = (int)(tb ? k : n), ldc = (int)n;
  for (int64_t i = 0; i < batch; i++) {
    blas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
               (int)k, 1.0f, base + a_off + i * a_stride, lda, base + b_off + i * b_stride, ldb, 0.0f,
               base + c_off + i * c_stride, ldc);
  }
  return NULL;
}

/* Reads `count` int64 arguments after the heap; returns the heap's floats, or NULL after throwing. */
static float *heap_args(napi_env env, napi_callback_info cb, size_t count, int64_t *v, size_t *floats) {
  napi_value argv[16];
  size_t argc = 16;
  void *heap;
  size_t bytes;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != count + 1 ||
      napi_get_arraybuffer_info(env, argv[0], &heap, &bytes) != napi_ok) {
    napi_throw_type_error(env, NULL, "adapterkit native: expected (heap, ...integers)");
    return NULL;
  }
  for (size_t i = 0; i < count; i++) {
    if (napi_get_value_int64(env, argv[i + 1], &v[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "adapterkit native: expected integer arguments");
      return NULL;
    }
  }
  *floats = bytes / sizeof(float);
  return (float *)heap;
}

static int in_heap(napi_env env, int64_t off, int64_t len, size_t floats) {
  if (off < 0 || len < 0 || off + len > (int64_t)floats) {
    napi_throw_range_error(env, NULL, "adapterkit native: operand outside the heap");
    return 0;
  }
  return 1;
}

/*
 * e^x for x ≤ 0 without libm, so that the GELU loops vectorise fully (libm's expf is a call per
 * element, or per four with SSE2's vector variant): 2^(x·log₂e) split into an integer power, built
 * in the exponent bits, and a fraction in [0, 1) by a degree-6 polynomial (relative error ≤ 2e-7).
 * Below e^-87 the result stays at about 1.6e-38 (it only multiplies terms that are negligible then).
 */
static inline float exp_nonpositive(float x) {
  float t = fmaxf(x, -87.0f) * 1.4426950408889634f; /* ≥ −125.6: the power stays a normal float */
  int32_t i = (int32_t)t; /* truncates toward zero: one less when t has a fraction below zero */
  i -= (float)i > t;
  float f = t - (float)i;
  float p = 1.5353362e-4f;
  p = p * f + 1.3398874e-3f;
  p = p * f + 9.6184373e-3f;
  p = p * f + 5.5503325e-2f;
  p = p * f + 2.4022648e-1f;
  p = p * f + 6.9314720e-1f;
  p = p * f + 1.0f;
  uint32_t bits = (uint32_t)(i + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

/*
 * Standard normal CDF Φ(x) and density φ(x) with one exp: erf by Abramowitz & Stegun 7.1.26 (absolute
 * error ≤ 1.5e-7, the formula TensorFlow.js's Erf uses), the lower tail computed directly (no
 * cancellation for negative x). Branch-free so the loops vectorise.
 */
static inline float normal_cdf(float x, float *pdf) {
  float z = fabsf(x) * (float)M_SQRT1_2;
  float t = 1.0f / (1.0f + 0.3275911f * z);
  float e = exp_nonpositive(-z * z);
  float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  float tail = 0.5f * poly * e;
  *pdf = 0.3989422804014327f * e;
  return x >= 0.0f ? 1.0f - tail : tail;
}

/* The loops, compiled for AVX2 + FMA as well as the baseline; the loader picks what the CPU runs. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define VECTOR_CLONES
#endif

VECTOR_CLONES static void gelu_loop(const float *restrict x, float *restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float pdf;
    y[i] = x[i] * normal_cdf(x[i], &pdf);
  }
}

VECTOR_CLONES static void gelu_grad_loop(const float *restrict x, const float *restrict dy, float *restrict dx,
                                         int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float pdf;
    float cdf = normal_cdf(x[i], &pdf);
    dx[i] = dy[i] * (cdf + x[i] * pdf);
  }
}

/* True when [a, a + n) and [b, b + n) overlap (restrict loops need distinct arrays). */
static int overlaps(const float *a, const float *b, int64_t n) { return a < b + n && b < a + n; }

/* gelu(heap, x, y, n): y = x·Φ(x), exact (erf) GELU. y may be x (in place). */
static napi_value gelu(napi_env env, napi_callback_info cb) {
  int64_t v[3];
  size_t floats;
  float *h = heap_args(env, cb, 3, v, &floats);
  if (!h || !in_heap(env, v[0], v[2], floats) || !in_heap(env, v[1], v[2], floats)) return NULL;
  const float *x = h + v[0];
  float *y = h + v[1];
  if (!overlaps(x, y, v[2])) {
    gelu_loop(x, y, v[2]);
    return NULL;
  }
  for (int64_t i = 0; i < v[2]; i++) {
    float pdf;
    y[i] = x[i] * normal_cdf(x[i], &pdf);
  }
  return NULL;
}

/* geluGrad(heap, x, dy, dx, n): dx = dy·(Φ(x) + x·φ(x)). dx may be x or dy (in place). */
static napi_value gelu_grad(napi_env env, napi_callback_info cb) {
  int64_t v[4];
  size_t floats;
  float *h = heap_args(env, cb, 4, v, &floats);
  if (!h || !in_heap(env, v[0], v[3], floats) || !in_heap(env, v[1], v[3], floats) || !in_heap(env, v[2], v[3], floats))
    return NULL;
  const float *x = h + v[0], *dy = h + v[1];
  float *dx = h + v[2];
  if (!overlaps(x, dx, v[3]) && !overlaps(dy, dx, v[3])) {
    gelu_grad_loop(x, dy, dx, v[3]);
    return NULL;
  }
  for (int64_t i = 0; i < v[3]; i++) {
    float pdf;
    float cdf = normal_cdf(x[i], &pdf);
    dx[i] = dy[i] * (cdf + x[i] * pdf);
  }
  return NULL;
}

/*
 * sum(heap, x, out, outer, inner, leading): x viewed as [outer, inner]; leading=1 sums over the outer
 * axis (out has `inner` values: column sums, e.g. bias gradients), leading=0 over the inner one (out
 * has `outer` values: row sums). Column sums accumulate row by row (vectorised), row sums in eight lanes.
 */
static napi_value sum(napi_env env, napi_callback_info cb) {
  int64_t v[5];
  size_t floats;
  float *h = heap_args(env, cb, 5, v, &floats);
  int64_t outer = v[2], inner = v[3];
  if (!h || outer < 0 || inner < 0 || !in_heap(env, v[0], outer * inner, floats) ||
      !in_heap(env, v[1], v[4] ? inner : outer, floats))
    return NULL;
  const float *x = h + v[0];
  float *out = h + v[1];
  if (v[4]) {
    float *acc = calloc((size_t)(inner > 0 ? inner : 1), sizeof(float));
    if (!acc) {
      napi_throw_error(env, NULL, "adapterkit native sum: out of memory");
      return NULL;
    }
    for (int64_t i = 0; i < outer; i++) {
      const float *row = x + i * inner;
      for (int64_t j = 0; j < inner; j++) acc[j] += row[j];
    }
    for (int64_t j = 0; j < inner; j++) out[j] = acc[j];
    free(acc);
  } else {
    for (int64_t i = 0; i < outer; i++) {
      /* Eight independent partial sums: vectorised, and more accurate than one running sum. */
      const float *row = x + i * inner;
      float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t j = 0;
      for (; j + 8 <= inner; j += 8)
        for (int l = 0; l < 8; l++) part[l] += row[j + l];
      double acc = 0;
      for (int l = 0; l < 8; l++) acc += part[l];
      for (; j < inner; j++) acc += row[j];
      out[i] = (float)acc;
    }
  }
  return NULL;
}

/*
 * adamw(heap, p, g, m, v, pOut, mOut, vOut, n, decay, beta1, beta2, eps, stepSize, sqrtBc2, sign):
 * one AdamW update in torch.optim.AdamW's order of operations (decoupled decay first):
 *   p0 = p·decay; m' = β1·m + (1−β1)·g; v' = β2·v + (1−β2)·g²; p' = p0 − stepSize·m'/(√v'/√bc2 + eps)
 * with g multiplied by `sign` (−1 maximises).
 */
static napi_value adamw(napi_env env, napi_callback_info cb) {
  napi_value argv[16];
  size_t argc = 16;
  void *heap;
  size_t bytes;
  int64_t off[8];
  double hp[7];
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != 16 ||
      napi_get_arraybuffer_info(env, argv[0], &heap, &bytes) != napi_ok) {
    napi_throw_type_error(env, NULL, "adapterkit native adamw: expected (heap, 8 offsets/sizes, 7 numbers)");
    return NULL;
  }
  for (int i = 0; i < 8; i++) CHECK(napi_get_value_int64(env, argv[1 + i], &off[i]));
  for (int i = 0; i < 7; i++) CHECK(napi_get_value_double(env, argv[9 + i], &hp[i]));
  size_t floats = bytes / sizeof(float);
  int64_t n = off[7];
  for (int i = 0; i < 7; i++)
    if (!in_heap(env, off[i], n, floats)) return NULL;
  float *h = (float *)heap;
  const float *p = h + off[0], *g = h + off[1], *m = h + off[2], *v = h + off[3];
  float *po = h + off[4], *mo = h + off[5], *vo = h + off[6];
  /* In double, rounded once per value: at least as accurate as the float32 tensor formulation. */
  const double decay = hp[0], b1 = hp[1], b2 = hp[2], eps = hp[3], step_size = hp[4], sqrt_bc2 = hp[5], sign = hp[6];
  const double c1 = 1.0 - b1, c2 = 1.0 - b2;
  for (int64_t i = 0; i < n; i++) {
    double gi = (double)g[i] * sign;
    double mi = (double)m[i] * b1 + gi * c1;
    double vi = (double)v[i] * b2 + gi * gi * c2;
    mo[i] = (float)mi;
    vo[i] = (float)vi;
    po[i] = (float)((double)p[i] * decay - mi / (sqrt(vi) / sqrt_bc2 + eps) * step_size);
  }
  return NULL;
}

/*
 * gatherRows(heap, x, indices, out, rows, rowLen, count): out[i] = x[indices[i]] for rows of rowLen
 * 4-byte elements (float32 or int32). Returns -1, or the position of the first index outside
 * [0, rows) (nothing is written then; the caller reports it).
 */
static napi_value gather_rows(napi_env env, napi_callback_info cb) {
  int64_t v[6];
  size_t floats;
  float *h = heap_args(env, cb, 6, v, &floats);
  int64_t rows = v[3], len = v[4], count = v[5];
  if (!h || rows < 0 || len < 0 || count < 0 || !in_heap(env, v[0], rows * len, floats) ||
      !in_heap(env, v[1], count, floats) || !in_heap(env, v[2], count * len, floats))
    return NULL;
  const int32_t *idx = (const int32_t *)(h + v[1]);
  napi_value result;
  for (int64_t i = 0; i < count; i++) {
    if (idx[i] < 0 || idx[i] >= rows) {
      CHECK(napi_create_int64(env, i, &result));
      return result;
    }
  }
  const float *x = h + v[0];
  float *out = h + v[2];
  for (int64_t i = 0; i < count; i++) memcpy(out + i * len, x + (int64_t)idx[i] * len, (size_t)len * sizeof(float));
  CHECK(napi_create_int64(env, -1, &result));
  return result;
}

/* Reads integer arguments then one double (the last argument); NULL after throwing. */
static float *heap_args_eps(napi_env env, napi_callback_info cb, size_t count, int64_t *v, double *d, size_t *floats) {
  napi_value argv[16];
  size_t argc = 16;
  void *heap;
  size_t bytes;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != count + 2 ||
      napi_get_arraybuffer_info(env, argv[0], &heap, &bytes) != napi_ok) {
    napi_throw_type_error(env, NULL, "adapterkit native: expected (heap, ...integers, number)");
    return NULL;
  }
  for (size_t i = 0; i < count; i++) {
    if (napi_get_value_int64(env, argv[i + 1], &v[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "adapterkit native: expected integer arguments");
      return NULL;
    }
  }
  if (napi_get_value_double(env, argv[count + 1], d) != napi_ok) {
    napi_throw_type_error(env, NULL, "adapterkit native: expected a number as last argument");
    return NULL;
  }
  *floats = bytes / sizeof(float);
  return (float *)heap;
}

/*
 * layerNorm(heap, x, gamma, beta, y, mean, rstd, rows, f, eps): per row of f values, biased
 * variance, y = (x − μ)·rstd·γ + β with rstd = 1/√(σ² + eps); μ and rstd are kept for the gradient.
 * Statistics accumulate in double (two passes: mean, then centred squares).
 */
static napi_value layer_norm(napi_env env, napi_callback_info cb) {
  int64_t v[8];
  double eps;
  size_t floats;
  float *h = heap_args_eps(env, cb, 8, v, &eps, &floats);
  int64_t rows = v[6], f = v[7];
  if (!h || rows < 0 || f < 0 || !in_heap(env, v[0], rows * f, floats) || !in_heap(env, v[1], f, floats) ||
      !in_heap(env, v[2], f, floats) || !in_heap(env, v[3], rows * f, floats) ||
      !in_heap(env, v[4], rows, floats) || !in_heap(env, v[5], rows, floats))
    return NULL;
  const float *gamma = h + v[1], *beta = h + v[2];
  for (int64_t r = 0; r < rows; r++) {
    const float *x = h + v[0] + r * f;
    float *y = h + v[3] + r * f;
    double s = 0, ss = 0;
    for (int64_t j = 0; j < f; j++) s += x[j];
    const double mu = f ? s / (double)f : 0;
    for (int64_t j = 0; j < f; j++) {
      double c = x[j] - mu;
      ss += c * c;
    }
    const double rs = 1.0 / sqrt((f ? ss / (double)f : 0) + eps);
    const float m = (float)mu, rsf = (float)rs;
    for (int64_t j = 0; j < f; j++) y[j] = (x[j] - m) * rsf * gamma[j] + beta[j];
    h[v[4] + r] = m;
    h[v[5] + r] = rsf;
  }
  return NULL;
}

/*
 * layerNormGrad(heap, dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, f, params):
 * x̂ = (x − μ)·rstd, g = dy·γ, dx = rstd·(g − mean(g) − x̂·mean(g·x̂)); with params ≠ 0 also
 * dγ = Σ_rows dy·x̂ and dβ = Σ_rows dy.
 */
static napi_value layer_norm_grad(napi_env env, napi_callback_info cb) {
  int64_t v[11];
  size_t floats;
  float *h = heap_args(env, cb, 11, v, &floats);
  int64_t rows = v[8], f = v[9], params = v[10];
  if (!h || rows < 0 || f < 0 || !in_heap(env, v[0], rows * f, floats) || !in_heap(env, v[1], rows * f, floats) ||
      !in_heap(env, v[2], f, floats) || !in_heap(env, v[3], rows, floats) || !in_heap(env, v[4], rows, floats) ||
      !in_heap(env, v[5], rows * f, floats) || (params && (!in_heap(env, v[6], f, floats) || !in_heap(env, v[7], f, floats))))
    return NULL;
  const float *gamma = h + v[2];
  double *dg = NULL, *db = NULL;
  if (params) {
    dg = calloc((size_t)(f > 0 ? 2 * f : 1), sizeof(double));
    if (!dg) {
      napi_throw_error(env, NULL, "adapterkit native layerNormGrad: out of memory");
      return NULL;
    }
    db = dg + f;
  }
  for (int64_t r = 0; r < rows; r++) {
    const float *dy = h + v[0] + r * f, *x = h + v[1] + r * f;
    float *dx = h + v[5] + r * f;
    const float m = h[v[3] + r], rs = h[v[4] + r];
    double sg = 0, sgx = 0;
    for (int64_t j = 0; j < f; j++) {
      float xh = (x[j] - m) * rs;
      float g = dy[j] * gamma[j];
      sg += g;
      sgx += (double)g * xh;
    }
    const float mg = f ? (float)(sg / (double)f) : 0.0f, mgx = f ? (float)(sgx / (double)f) : 0.0f;
    for (int64_t j = 0; j < f; j++) {
      float xh = (x[j] - m) * rs;
      dx[j] = rs * (dy[j] * gamma[j] - mg - xh * mgx);
    }
    if (params) {
      for (int64_t j = 0; j < f; j++) {
        dg[j] += (double)dy[j] * ((x[j] - m) * rs);
        db[j] += dy[j];
      }
    }
  }
  if (params) {
    for (int64_t j = 0; j < f; j++) {
      h[v[6] + j] = (float)dg[j];
      h[v[7] + j] = (float)db[j];
    }
    free(dg);
  }
  return NULL;
}

/*
 * softmaxXent(heap, logits, ids, nll, lse, rows, classes): per row, lse = log Σ exp(x) (stable) and
 * nll = lse − x[id], or 0 where id < 0 (an excluded position). Returns -1, or the first row whose id
 * is ≥ classes.
 */
static napi_value softmax_xent(napi_env env, napi_callback_info cb) {
  int64_t v[6];
  size_t floats;
  float *h = heap_args(env, cb, 6, v, &floats);
  int64_t rows = v[4], c = v[5];
  if (!h || rows < 0 || c <= 0 || !in_heap(env, v[0], rows * c, floats) || !in_heap(env, v[1], rows, floats) ||
      !in_heap(env, v[2], rows, floats) || !in_heap(env, v[3], rows, floats))
    return NULL;
  const int32_t *ids = (const int32_t *)(h + v[1]);
  napi_value result;
  for (int64_t r = 0; r < rows; r++) {
    if (ids[r] >= c) {
      CHECK(napi_create_int64(env, r, &result));
      return result;
    }
  }
  for (int64_t r = 0; r < rows; r++) {
    const float *x = h + v[0] + r * c;
    float mx = x[0];
    for (int64_t j = 1; j < c; j++) mx = x[j] > mx ? x[j] : mx;
    double s = 0;
    for (int64_t j = 0; j < c; j++) s += expf(x[j] - mx);
    const double lse = mx + log(s);
    h[v[3] + r] = (float)lse;
    h[v[2] + r] = ids[r] < 0 ? 0.0f : (float)(lse - x[ids[r]]);
  }
  CHECK(napi_create_int64(env, -1, &result));
  return result;
}

/* softmaxXentGrad(heap, logits, ids, lse, dy, dx, rows, classes): dx = dy·(softmax(x) − onehot(id)), 0 where id < 0. */
static napi_value softmax_xent_grad(napi_env env, napi_callback_info cb) {
  int64_t v[7];
  size_t floats;
  float *h = heap_args(env, cb, 7, v, &floats);
  int64_t rows = v[5], c = v[6];
  if (!h || rows < 0 || c <= 0 || !in_heap(env, v[0], rows * c, floats) || !in_heap(env, v[1], rows, floats) ||
      !in_heap(env, v[2], rows, floats) || !in_heap(env, v[3], rows, floats) || !in_heap(env, v[4], rows * c, floats))
    return NULL;
  const int32_t *ids = (const int32_t *)(h + v[1]);
  for (int64_t r = 0; r < rows; r++) {
    const float *x = h + v[0] + r * c;
    float *dx = h + v[4] + r * c;
    const int32_t id = ids[r];
    if (id < 0 || id >= c) {
      memset(dx, 0, (size_t)c * sizeof(float));
      continue;
    }
    const float lse = h[v[2] + r], d = h[v[3] + r];
    for (int64_t j = 0; j < c; j++) dx[j] = d * expf(x[j] - lse);
    dx[id] -= d;
  }
  return NULL;
}

/* softmaxGrad(heap, y, dy, dx, rows, cols): dx = y·(dy − Σ dy·y) per row. */
static napi_value softmax_grad(napi_env env, napi_callback_info cb) {
  int64_t v[5];
  size_t floats;
  float *h = heap_args(env, cb, 5, v, &floats);
  int64_t rows = v[3], c = v[4];
  if (!h || rows < 0 || c < 0 || !in_heap(env, v[0], rows * c, floats) || !in_heap(env, v[1], rows * c, floats) ||
      !in_heap(env, v[2], rows * c, floats))
    return NULL;
  for (int64_t r = 0; r < rows; r++) {
    const float *y = h + v[0] + r * c, *dy = h + v[1] + r * c;
    float *dx = h + v[2] + r * c;
    float s = 0;
    for (int64_t j = 0; j < c; j++) s += dy[j] * y[j];
    for (int64_t j = 0; j < c; j++) dx[j] = y[j] * (dy[j] - s);
  }
  return NULL;
}

/* Checks a product's sizes fit the BLAS's int arguments; throws otherwise. */
static int blas_sizes(napi_env env, int64_t rows, int64_t in, int64_t out, int64_t r) {
  if (rows < 0 || in < 0 || out < 0 || r < 0 || rows > INT32_MAX || in > INT32_MAX || out > INT32_MAX ||
      r > INT32_MAX) {
    napi_throw_range_error(env, NULL, "adapterkit native lora: sizes outside [0, 2^31)");
    return 0;
  }
  if (!blas_sgemm) {
    napi_throw_error(env, NULL, blas_error);
    return 0;
  }
  return 1;
}

#define GEMM(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)                                      \
  blas_sgemm(CblasRowMajor, (ta) ? CblasTrans : CblasNoTrans, (tb) ? CblasTrans : CblasNoTrans, (int)(m), \
             (int)(n), (int)(k), (alpha), (a), (int)(lda), (b), (int)(ldb), (beta), (c), (int)(ldc))

/*
 * W + s·B·A [out, in] in a new buffer (the caller frees it), or NULL after throwing. Worth building
 * when the batch has at least about in·out/(in + out) rows: one product with it then replaces a
 * rank-r product and a pass over the [rows, in] or [rows, out] result.
 */
static float *merged_weight(napi_env env, const float *w, const float *a, const float *b, int64_t in, int64_t out,
                            int64_t r, float s) {
  float *m = malloc((size_t)(out * in) * sizeof(float));
  if (!m) {
    napi_throw_error(env, NULL, "adapterkit native lora: out of memory");
    return NULL;
  }
  memcpy(m, w, (size_t)(out * in) * sizeof(float));
  if (r > 0) GEMM(0, 0, out, in, r, s, b, r, a, in, 1.0f, m, in);
  return m;
}

static int merge_pays(int64_t rows, int64_t in, int64_t out) { return rows * (in + out) >= in * out; }

/*
 * loraLinear(heap, x, w, bias, a, b, y, hs, rows, in, out, r, scaling): a linear layer with one LoRA
 * adapter in one call, y = x·Wᵀ + bias + hs·Bᵀ with hs = scaling·x·Aᵀ (x [rows, in], W [out, in],
 * A [r, in], B [out, r]; bias −1 for none). hs is written too: the backward pass needs it. The
 * scaling sits on the rank-r intermediate (rows·r multiplies, not rows·out) and the bias is the first
 * product's starting value. For a batch of many rows y is one product with W + s·B·A
 * (merged_weight); for a few rows the low-rank product accumulates onto x·Wᵀ instead.
 */
static napi_value lora_linear(napi_env env, napi_callback_info cb) {
  int64_t v[11];
  double s;
  size_t floats;
  float *h = heap_args_eps(env, cb, 11, v, &s, &floats);
  if (!h) return NULL;
  int64_t rows = v[7], in = v[8], out = v[9], r = v[10];
  if (!blas_sizes(env, rows, in, out, r) || !in_heap(env, v[0], rows * in, floats) ||
      !in_heap(env, v[1], out * in, floats) || (v[2] >= 0 && !in_heap(env, v[2], out, floats)) ||
      !in_heap(env, v[3], r * in, floats) || !in_heap(env, v[4], out * r, floats) ||
      !in_heap(env, v[5], rows * out, floats) || !in_heap(env, v[6], rows * r, floats))
    return NULL;
  const float *x = h + v[0], *w = h + v[1], *a = h + v[3], *b = h + v[4];
  float *y = h + v[5], *hs = h + v[6];
  if (rows == 0 || out == 0) {
    if (rows * r > 0) memset(hs, 0, (size_t)(rows * r) * sizeof(float));
    return NULL;
  }
  float beta = 0.0f;
  if (v[2] >= 0) {
    for (int64_t i = 0; i < rows; i++) memcpy(y + i * out, h + v[2], (size_t)out * sizeof(float));
    beta = 1.0f;
  }
  if (in == 0) { /* x·Wᵀ and hs are zero */
    if (beta == 0.0f) memset(y, 0, (size_t)(rows * out) * sizeof(float));
    if (r > 0) memset(hs, 0, (size_t)(rows * r) * sizeof(float));
    return NULL;
  }
  const int merged = r > 0 && merge_pays(rows, in, out);
  float *m = merged ? merged_weight(env, w, a, b, in, out, r, (float)s) : NULL;
  if (merged && !m) return NULL;
  GEMM(0, 1, rows, out, in, 1.0f, x, in, merged ? m : w, in, beta, y, out);
  free(m);
  if (r == 0) return NULL;
  GEMM(0, 1, rows, r, in, (float)s, x, in, a, in, 0.0f, hs, r);
  if (!merged) GEMM(0, 1, rows, out, r, 1.0f, hs, r, b, r, 1.0f, y, out);
  return NULL;
}

/*
 * loraLinearGrad(heap, dy, x, w, a, b, hs, dx, da, db, rows, in, out, r, scaling): the gradients of
 * loraLinear with respect to x, A and B, each written only when its offset is ≥ 0:
 *   g = scaling·dy·B [rows, r];  dx = dy·W + g·A = dy·(W + scaling·B·A);  dA = gᵀ·x;  dB = dyᵀ·hs
 * (dx by the second form, one product, for a batch of many rows; see merged_weight).
 * W and the bias are frozen (no gradient).
 */
static napi_value lora_linear_grad(napi_env env, napi_callback_info cb) {
  int64_t v[13];
  double s;
  size_t floats;
  float *h = heap_args_eps(env, cb, 13, v, &s, &floats);
  if (!h) return NULL;
  int64_t rows = v[9], in = v[10], out = v[11], r = v[12];
  int want_dx = v[6] >= 0, want_da = v[7] >= 0, want_db = v[8] >= 0;
  if (!blas_sizes(env, rows, in, out, r) || !in_heap(env, v[0], rows * out, floats) ||
      !in_heap(env, v[1], rows * in, floats) || !in_heap(env, v[2], out * in, floats) ||
      !in_heap(env, v[3], r * in, floats) || !in_heap(env, v[4], out * r, floats) ||
      !in_heap(env, v[5], rows * r, floats) || (want_dx && !in_heap(env, v[6], rows * in, floats)) ||
      (want_da && !in_heap(env, v[7], r * in, floats)) || (want_db && !in_heap(env, v[8], out * r, floats)))
    return NULL;
  const float *dy = h + v[0], *x = h + v[1], *w = h + v[2], *a = h + v[3], *b = h + v[4], *hs = h + v[5];
  float *dx = want_dx ? h + v[6] : NULL, *da = want_da ? h + v[7] : NULL, *db = want_db ? h + v[8] : NULL;
  /* A product over an empty inner axis is zero (BLAS implementations differ on k = 0): cleared here. */
  if (db) {
    if (rows > 0 && out > 0 && r > 0) GEMM(1, 0, out, r, rows, 1.0f, dy, out, hs, r, 0.0f, db, r);
    else memset(db, 0, (size_t)(out * r) * sizeof(float));
  }
  if (dx && rows > 0 && in > 0 && out > 0 && r > 0 && merge_pays(rows, in, out)) {
    float *m = merged_weight(env, w, a, b, in, out, r, (float)s);
    if (!m) return NULL;
    GEMM(0, 0, rows, in, out, 1.0f, dy, out, m, in, 0.0f, dx, in);
    free(m);
    dx = NULL; /* done */
  } else if (dx) {
    if (rows > 0 && in > 0 && out > 0) GEMM(0, 0, rows, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
    else memset(dx, 0, (size_t)(rows * in) * sizeof(float));
  }
  if (da && (rows == 0 || out == 0 || r == 0)) memset(da, 0, (size_t)(r * in) * sizeof(float));
  if (!(dx || da) || rows == 0 || in == 0 || out == 0 || r == 0) return NULL;
  float *g = malloc((size_t)(rows * r) * sizeof(float));
  if (!g) {
    napi_throw_error(env, NULL, "adapterkit native lora: out of memory");
    return NULL;
  }
  GEMM(0, 0, rows, r, out, (float)s, dy, out, b, r, 0.0f, g, r);
  if (dx) GEMM(0, 0, rows, in, r, 1.0f, g, r, a, in, 1.0f, dx, in);
  if (da) GEMM(1, 0, r, in, rows, 1.0f, g, r, x, in, 0.0f, da, in);
  free(g);
  return NULL;
}

/* setThreads(n): the BLAS's thread count (no-op for a BLAS without the OpenBLAS extension). */
static napi_value set_threads(napi_env env, napi_callback_info cb) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n;
  CHECK(napi_get_cb_info(env, cb, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &n));
  if (blas_set_threads && n >= 1) blas_set_threads(n);
  return NULL;
}

/* info(): { available, error, library, config, threads } */
static napi_value info(napi_env env, napi_callback_info cb) {
  (void)cb;
  napi_value obj, val;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_get_boolean(env, blas_sgemm != NULL, &val));
  CHECK(napi_set_named_property(env, obj, "available", val));
  CHECK(napi_create_string_utf8(env, blas_error, NAPI_AUTO_LENGTH, &val));
  CHECK(napi_set_named_property(env, obj, "error", val));
  CHECK(napi_create_string_utf8(env, blas_path, NAPI_AUTO_LENGTH, &val));
  CHECK(napi_set_named_property(env, obj, "library", val));
  const char *config = blas_get_config ? blas_get_config() : "";
  CHECK(napi_create_string_utf8(env, config ? config : "", NAPI_AUTO_LENGTH, &val));
  CHECK(napi_set_named_property(env, obj, "config", val));
  CHECK(napi_create_int32(env, blas_get_threads ? blas_get_threads() : 1, &val));
  CHECK(napi_set_named_property(env, obj, "threads", val));
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  open_blas();
  napi_property_descriptor props[] = {
      {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, info, NULL, NULL, NULL, napi_default, NULL},
      {"gelu", NULL, gelu, NULL, NULL, NULL, napi_default, NULL},
      {"geluGrad", NULL, gelu_grad, NULL, NULL, NULL, napi_default, NULL},
      {"sum", NULL, sum, NULL, NULL, NULL, napi_default, NULL},
      {"adamw", NULL, adamw, NULL, NULL, NULL, napi_default, NULL},
      {"gatherRows", NULL, gather_rows, NULL, NULL, NULL, napi_default, NULL},
      {"layerNorm", NULL, layer_norm, NULL, NULL, NULL, napi_default, NULL},
      {"layerNormGrad", NULL, layer_norm_grad, NULL, NULL, NULL, napi_default, NULL},
      {"softmaxXent", NULL, softmax_xent, NULL, NULL, NULL, napi_default, NULL},
      {"softmaxXentGrad", NULL, softmax_xent_grad, NULL, NULL, NULL, napi_default, NULL},
      {"softmaxGrad", NULL, softmax_grad, NULL, NULL, NULL, napi_default, NULL},
      {"loraLinear", NULL, lora_linear, NULL, NULL, NULL, napi_default, NULL},
      {"loraLinearGrad", NULL, lora_linear_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof *props, props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
