// cpu/attention.cpp — fused multi-head self-attention on a packed qkv, forward and backward.
//
// Letters: B tasks, T tokens, H heads, S head size, I = H * S; qkv (B, T, 3I) holds, per token,
// the queries of every head, then the keys, then the values (kernels.h has the full contract).
// Per (task b, head h) — one independent problem, so an OpenMP loop runs over all B * H of them
// and each thread keeps its T x T scratch in cache:
//   forward    S = scale * Q K^T                         Q, K, V: (T, S) slices of qkv
//              P = softmax of each row of S over its allowed keys (0 elsewhere)
//              Y = P V                                    written into y's columns of head h
//   backward, each line the previous one's rule read backwards:
//              dV = P^T dY;  dP = dY V^T                  (Y = P V: the matmul rule)
//              dS = P * (dP - rowsum(P * dP))             (softmax's backward, cpu/softmax.cpp; a
//                                                          masked P_ij = 0 gets dS_ij = 0)
//              dQ = scale * dS K;  dK = scale * dS^T Q    (S = scale Q K^T: the matmul rule)
//                                                         written into dqkv's slices
// The (T, S) matrices are read and written inside the packed tensors (row stride 3I, or I for y
// and dY), so the head split and merge of the unfused path (four copies per layer) are gone, and
// so are the separate mask, scale and softmax passes over the (B, H, T, T) scores. The six
// products per problem go through cpu/small_gemm.h's register-blocked kernel: with S = 16..32 and
// T = 64..128 a BLAS call per product cost more than its arithmetic.
#include "tensor/kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tensor/cpu/parallel.h"
#include "tensor/cpu/small_gemm.h"
#include "tensor/dtype.h"
#include "tensor/scalar_ops.h"

namespace tg::cpu {

namespace {

// Query rows per block: a multiple of the 4-row micro-kernel, and 16 keeps the causal key ranges
// multiples of a 16-float vector.
constexpr int64_t kRowBlock = 16;

// Softmax of one row of scores (times scale) in place over its first n entries, where key_bias
// (0 for an allowed key, -inf for a padded one) is added first and a causally hidden entry is
// already -inf; entries n.. of the row's T_len become 0, and so does a row with no allowed key.
// A hidden entry's exponent is -inf, and exp_of(-inf) is exactly 0. The maximum is taken over the
// unscaled scores (scale > 0 and rounding are monotonic, so scale * max equals the max of the
// products). No index comparisons inside the loops: they vectorise without remainder branches
// per causal row length.
template <class F>
void softmax_row(F* row, int64_t n, int64_t T_len, const F* key_bias, F scale) {
  const F ninf = -std::numeric_limits<F>::infinity();
  F mx = ninf;
#pragma omp simd reduction(max : mx)
  for (int64_t j = 0; j < n; ++j) {
    const F x = row[j] + key_bias[j];
    row[j] = x;
    mx = std::max(mx, x);
  }
  if (mx == ninf) {  // nothing allowed (or all scores -inf)
    for (int64_t j = 0; j < T_len; ++j) row[j] = F(0);
    return;
  }
  const F top = mx * scale;
  F sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) {
    const F e = exp_of(row[j] * scale - top);
    row[j] = e;
    sum += e;
  }
  const F inv = F(1) / sum;
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) row[j] *= inv;
  for (int64_t j = n; j < T_len; ++j) row[j] = F(0);
}

// dst (cols, rows) = src (rows, cols) read at row stride ld.
template <class F>
void transpose(const F* src, int64_t rows, int64_t cols, int64_t ld, F* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * ld + c];
  }
}

// Asks the cache for n contiguous elements at p.
template <class F>
void prefetch(const F* p, int64_t n) {
  for (int64_t j = 0; j < n; j += 64 / sizeof(F)) __builtin_prefetch(p + j);
}

// Asks the cache for the next problem's probabilities (its lower triangle under the causal
// mask) while this one computes: the backward reads them first in a short dot product per row,
// which otherwise waits on every line.
template <class F>
void prefetch_probs(const F* p, int64_t T_len, bool causal) {
  for (int64_t i = 0; i < T_len; ++i) prefetch(p + i * T_len, causal ? i + 1 : T_len);
}

}  // namespace

void attention(const Tensor& qkv, int64_t heads, const Tensor& valid, bool causal, double scale,
               Tensor& y, Tensor& probs) {
  const int64_t B = qkv.size(0), T_len = qkv.size(1), I = qkv.size(2) / 3, H = heads, S = I / H;
  const int64_t ld = 3 * I;  // row stride of q, k, v inside qkv
  const std::vector<double> valid_values =
      valid.defined() ? valid.to_vector() : std::vector<double>();
  dispatch_float(qkv.dtype(), "attention", [&](auto tag) {
    using F = decltype(tag);
    // Per key of each task, 0 if allowed and -inf if padded (the mask is tiny: B * T).
    const F ninf = -std::numeric_limits<F>::infinity();
    std::vector<F> key_bias(B * T_len, F(0));
    for (size_t i = 0; i < valid_values.size(); ++i) key_bias[i] = valid_values[i] != 0 ? 0 : ninf;
    const F* base = qkv.data<F>();
    F* yp = y.data<F>();
    F* pp = probs.data<F>();
    const int64_t problems = B * H;
    const bool parallel = problems > 1 && problems * T_len * T_len * S >= kParallelWork;
#pragma omp parallel if (parallel)
    {
      // K^T (I, T) of one task, every head: the B operand of the scores, contiguous rows. The
      // (task, head) problems of a thread are consecutive, so it is built once per task, in one
      // pass over the task's rows of keys.
      std::vector<F> kt(I * T_len);
      int64_t kt_task = -1;
#pragma omp for schedule(static)
      for (int64_t bh = 0; bh < problems; ++bh) {
        const int64_t b = bh / H, h = bh % H;
        const F* q = base + b * T_len * ld + h * S;  // (T, S), row stride ld
        const F* v = q + 2 * I;
        F* p = pp + bh * T_len * T_len;  // (T, T)
        if (kt_task != b) {
          transpose(base + b * T_len * ld + I, T_len, I, ld, kt.data());
          if (b + 1 < B) prefetch(base + (b + 1) * T_len * ld, T_len * ld);  // the next task's qkv
        }
        kt_task = b;
        const F* kth = kt.data() + h * S * T_len;  // K^T of head h (S, T)
        // Blocks of query rows; under the causal mask block [i0, i0 + rows) needs keys < i0 + rows
        // only (its probabilities beyond are exact zeros), which halves the work.
        for (int64_t i0 = 0; i0 < T_len; i0 += kRowBlock) {
          const int64_t rows = std::min(kRowBlock, T_len - i0);
          const int64_t n = causal ? i0 + rows : T_len;
          small_gemm<F>(rows, n, S, q + i0 * ld, ld, 1, kth, T_len, p + i0 * T_len, T_len,
                        false);  // scores = Q K^T (unscaled)
          for (int64_t i = i0; i < i0 + rows; ++i) {
            F* row = p + i * T_len;
            if (causal) std::fill(row + i + 1, row + n, ninf);  // keys after the query
            softmax_row(row, n, T_len, key_bias.data() + b * T_len, F(scale));
          }
          small_gemm<F>(rows, S, n, p + i0 * T_len, T_len, 1, v, ld,
                        yp + (b * T_len + i0) * I + h * S, I, false);  // Y = P V
        }
      }
    }
  });
}

void attention_backward(const Tensor& grad_y, const Tensor& qkv, const Tensor& probs, int64_t heads,
                        double scale, bool causal, Tensor& dqkv) {
  const int64_t B = qkv.size(0), T_len = qkv.size(1), I = qkv.size(2) / 3, H = heads, S = I / H;
  const int64_t ld = 3 * I;
  dispatch_float(qkv.dtype(), "attention_backward", [&](auto tag) {
    using F = decltype(tag);
    const F* base = qkv.data<F>();
    const F* gy = grad_y.data<F>();
    const F* pp = probs.data<F>();
    F* dbase = dqkv.data<F>();
    const int64_t problems = B * H;
    const bool parallel = problems > 1 && problems * T_len * T_len * S >= kParallelWork;
#pragma omp parallel if (parallel)
    {
      // V^T (I, T) of one task, every head, built once per task as K^T in the forward; dP, then
      // dS (T, T) of one problem.
      std::vector<F> vt(I * T_len), ds(T_len * T_len);
      int64_t vt_task = -1;
#pragma omp for schedule(static)
      for (int64_t bh = 0; bh < problems; ++bh) {
        const int64_t b = bh / H, h = bh % H;
        const F* q = base + b * T_len * ld + h * S;
        const F* k = q + I;
        F* dq = dbase + b * T_len * ld + h * S;
        F* dk = dq + I;
        F* dv = dq + 2 * I;
        const F* g = gy + b * T_len * I + h * S;  // (T, S), row stride I
        const F* p = pp + bh * T_len * T_len;
        if (bh + 1 < problems) prefetch_probs(p + T_len * T_len, T_len, causal);
        if (vt_task != b) {
          transpose(base + b * T_len * ld + 2 * I, T_len, I, ld, vt.data());
          if (b + 1 < B) {  // the next task's qkv and dY
            prefetch(base + (b + 1) * T_len * ld, T_len * ld);
            prefetch(gy + (b + 1) * T_len * I, T_len * I);
          }
        }
        vt_task = b;
        const F* vth = vt.data() + h * S * T_len;  // V^T of head h (S, T)
        // Row blocks as in the forward. Under the causal mask P_ij = 0 for j > i, so query block
        // [i0, i0 + rows) reaches keys < n = i0 + rows, and key block [j0, j0 + rows) is reached
        // by queries >= j0 only.
        for (int64_t i0 = 0; i0 < T_len; i0 += kRowBlock) {
          const int64_t rows = std::min(kRowBlock, T_len - i0);
          const int64_t n = causal ? i0 + rows : T_len;
          F* dsb = ds.data() + i0 * T_len;
          small_gemm<F>(rows, n, S, g + i0 * I, I, 1, vth, T_len, dsb, T_len,
                        false);                 // dP = dY V^T
          for (int64_t i = 0; i < rows; ++i) {  // dS = scale * P * (dP - rowsum(P * dP))
            const F* pr = p + (i0 + i) * T_len;
            F* dr = dsb + i * T_len;
            F dot = 0;
#pragma omp simd reduction(+ : dot)
            for (int64_t j = 0; j < n; ++j) dot += pr[j] * dr[j];
#pragma omp simd
            for (int64_t j = 0; j < n; ++j) dr[j] = F(scale) * pr[j] * (dr[j] - dot);
            for (int64_t j = n; j < T_len; ++j) dr[j] = F(0);
          }
          small_gemm<F>(rows, S, n, dsb, T_len, 1, k, ld, dq + i0 * ld, ld, false);  // dS K
        }
        for (int64_t j0 = 0; j0 < T_len; j0 += kRowBlock) {
          const int64_t rows = std::min(kRowBlock, T_len - j0);
          const int64_t first = causal ? j0 : 0;  // the first query that reaches these keys
          small_gemm<F>(rows, S, T_len - first, p + first * T_len + j0, 1, T_len, g + first * I, I,
                        dv + j0 * ld, ld, false);  // dV = P^T dY
          small_gemm<F>(rows, S, T_len - first, ds.data() + first * T_len + j0, 1, T_len,
                        q + first * ld, ld, dk + j0 * ld, ld, false);  // dK = dS^T Q
        }
      }
    }
  });
}

}  // namespace tg::cpu
