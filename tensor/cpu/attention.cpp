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

// Softmax of one row of scores (times scale) in place, over the keys j < `keys` with allowed[j] !=
// 0 (allowed null: all); other entries become 0, and a row with no allowed key becomes all 0.
template <class T>
void masked_softmax_row(T* row, int64_t T_len, int64_t keys, const T* allowed, T scale) {
  const T ninf = -std::numeric_limits<T>::infinity();
  T mx = ninf;
  if (allowed) {
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < keys; ++j) {
      const T x = row[j] * scale;
      row[j] = x;
      mx = std::max(mx, allowed[j] != T(0) ? x : ninf);
    }
  } else {
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < keys; ++j) {
      row[j] *= scale;
      mx = std::max(mx, row[j]);
    }
  }
  if (mx == ninf) {  // nothing allowed (or all scores -inf)
    for (int64_t j = 0; j < T_len; ++j) row[j] = T(0);
    return;
  }
  T sum = 0;
  if (allowed) {
    // A masked key's exponent is a large negative number (exp_of gives exactly 0), selected
    // before the call so that the loop vectorises; a masked score may exceed mx, so it must not
    // reach exp itself.
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < keys; ++j) {
      const T e = exp_of(allowed[j] != T(0) ? row[j] - mx : T(-200));
      row[j] = e;
      sum += e;
    }
  } else {
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < keys; ++j) {
      const T e = exp_of(row[j] - mx);
      row[j] = e;
      sum += e;
    }
  }
  const T inv = T(1) / sum;
  for (int64_t j = 0; j < keys; ++j) row[j] *= inv;
  for (int64_t j = keys; j < T_len; ++j) row[j] = T(0);
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
    // The allowed keys of each task as 1/0 in F (the mask is tiny: B * T).
    std::vector<F> allowed(valid_values.size());
    for (size_t i = 0; i < allowed.size(); ++i) allowed[i] = valid_values[i] != 0.0 ? F(1) : F(0);
    const F* base = qkv.data<F>();
    F* yp = y.data<F>();
    F* pp = probs.data<F>();
    const int64_t problems = B * H;
    const bool parallel = problems > 1 && problems * T_len * T_len * S >= kParallelWork;
#pragma omp parallel if (parallel)
    {
      std::vector<F> kt(S * T_len);  // K^T (S, T): B operand of the scores, contiguous rows
#pragma omp for schedule(static)
      for (int64_t bh = 0; bh < problems; ++bh) {
        const int64_t b = bh / H, h = bh % H;
        const F* q = base + b * T_len * ld + h * S;  // (T, S), row stride ld
        const F* k = q + I;
        const F* v = q + 2 * I;
        F* p = pp + bh * T_len * T_len;  // (T, T)
        for (int64_t j = 0; j < T_len; ++j) {
          for (int64_t c = 0; c < S; ++c) kt[c * T_len + j] = k[j * ld + c];
        }
        const F* mask = allowed.empty() ? nullptr : allowed.data() + b * T_len;
        // Blocks of query rows; under the causal mask block [i0, i0 + rows) needs keys < i0 + rows
        // only (its probabilities beyond are exact zeros), which halves the work.
        for (int64_t i0 = 0; i0 < T_len; i0 += kRowBlock) {
          const int64_t rows = std::min(kRowBlock, T_len - i0);
          const int64_t n = causal ? i0 + rows : T_len;
          small_gemm<F>(rows, n, S, q + i0 * ld, ld, 1, kt.data(), T_len, p + i0 * T_len, T_len,
                        false);  // scores = Q K^T (unscaled)
          for (int64_t i = i0; i < i0 + rows; ++i) {
            masked_softmax_row(p + i * T_len, T_len, causal ? i + 1 : T_len, mask, F(scale));
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
      std::vector<F> vt(S * T_len), ds(T_len * T_len);  // V^T (S, T); dP, then dS (T, T)
#pragma omp for schedule(static)
      for (int64_t bh = 0; bh < problems; ++bh) {
        const int64_t b = bh / H, h = bh % H;
        const F* q = base + b * T_len * ld + h * S;
        const F* k = q + I;
        const F* v = q + 2 * I;
        F* dq = dbase + b * T_len * ld + h * S;
        F* dk = dq + I;
        F* dv = dq + 2 * I;
        const F* g = gy + b * T_len * I + h * S;  // (T, S), row stride I
        const F* p = pp + bh * T_len * T_len;
        for (int64_t j = 0; j < T_len; ++j) {
          for (int64_t c = 0; c < S; ++c) vt[c * T_len + j] = v[j * ld + c];
        }
        // Row blocks as in the forward. Under the causal mask P_ij = 0 for j > i, so query block
        // [i0, i0 + rows) reaches keys < n = i0 + rows, and key block [j0, j0 + rows) is reached
        // by queries >= j0 only.
        for (int64_t i0 = 0; i0 < T_len; i0 += kRowBlock) {
          const int64_t rows = std::min(kRowBlock, T_len - i0);
          const int64_t n = causal ? i0 + rows : T_len;
          F* dsb = ds.data() + i0 * T_len;
          small_gemm<F>(rows, n, S, g + i0 * I, I, 1, vt.data(), T_len, dsb, T_len,
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
