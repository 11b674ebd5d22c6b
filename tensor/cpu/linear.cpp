// cpu/linear.cpp — nn.Linear's three GEMMs, y = x W^T + b and its backward, spread over the
// cores by us.
//
//   forward   y (M, O) = x (M, K) W^T + b        W (O, K) as nn.Linear stores it
//   backward  dx = g W;  dW = g^T x;  db = the column sums of g        (g = dL/dy, (M, O))
//
// y and dx go through our own GEMM (cpu/packed_gemm.h), which packs only the weight and adds the
// bias (and a residual, when the caller gives one) as it stores each tile (no separate passes,
// no zeroing of C); dW, a long reduction over
// M into a small (O, K) output, stays with OpenBLAS, which runs it faster. Threads: at TGMM's
// sizes (M = B*T rows of 4096..32768, K and O of 64..512) OpenBLAS's own threading gains nothing
// or loses (measured on 2 cores: (4096,64)@(64,192) ran at 100 GFLOP/s on one thread and 70 on
// two; dW at 98 and 78). So with T > 1 threads each thread runs a single-threaded GEMM on its
// block of rows of x (forward, dx), or on its block of the rows summed over (dW: a split-K GEMM
// whose T partial products are then added, in a fixed order, so a run is reproducible at a given
// thread count).
#include "tensor/kernels.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "tensor/cpu/packed_gemm.h"
#include "tensor/cpu/parallel.h"
#include "tensor/dtype.h"

namespace tg::cpu {

namespace {

// Row-major C (M, N) = op(A) op(B) + beta C, single call.
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.0f, A,
              static_cast<int>(lda), B, static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
}
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.0, A,
              static_cast<int>(lda), B, static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
}

// How many threads a GEMM of this much work gets: 1 below the threshold or inside a parallel
// region, else all of them.
int gemm_threads(int64_t work) {
  if (work < kParallelGemmWork || omp_in_parallel()) return 1;
  return std::max(1, omp_get_max_threads());
}

// The [begin, end) of part `i` of `n` rows split into `parts` nearly equal blocks.
std::pair<int64_t, int64_t> block(int64_t n, int parts, int i) {
  const int64_t base = n / parts, extra = n % parts;
  const int64_t begin = i * base + std::min<int64_t>(i, extra);
  return {begin, begin + base + (i < extra ? 1 : 0)};
}

// C (M, N) = residual + (A (M, K) B (K, N) + bias) with the rows of A, C and the residual split
// over `threads`: the layout of packed_gemm (A's rows contiguous, row stride lda; the residual's
// row stride is C's).
template <class F>
void packed_gemm_by_rows(int64_t M, int64_t N, int64_t K, const F* A, int64_t lda, const F* B,
                         int64_t b_rs, int64_t b_cs, const F* bias, const F* residual, F* C,
                         int64_t ldc, int threads) {
  if (threads <= 1) {
    packed_gemm(M, N, K, A, lda, 1, B, b_rs, b_cs, bias, residual, C, ldc);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; ++t) {
    const auto [r0, r1] = block(M, threads, t);
    if (r1 > r0) {
      packed_gemm(r1 - r0, N, K, A + r0 * lda, lda, 1, B, b_rs, b_cs, bias,
                  residual ? residual + r0 * ldc : nullptr, C + r0 * ldc, ldc);
    }
  }
}

}  // namespace

void linear(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& residual, Tensor& y) {
  const int64_t M = x.size(0), K = x.size(1), O = w.size(0);
  dispatch_float(x.dtype(), "linear", [&](auto tag) {
    using F = decltype(tag);
    // B = W^T: element (k, o) at w[o K + k].
    packed_gemm_by_rows<F>(
        M, O, K, x.data<F>(), K, w.data<F>(), 1, K, b.defined() ? b.data<F>() : nullptr,
        residual.defined() ? residual.data<F>() : nullptr, y.data<F>(), O, gemm_threads(M * O * K));
  });
}

void linear_backward(const Tensor& g, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw,
                     Tensor& db) {
  const int64_t M = g.size(0), O = g.size(1), K = x.size(1);
  dispatch_float(g.dtype(), "linear_backward", [&](auto tag) {
    using F = decltype(tag);
    const F* gp = g.data<F>();
    if (dx.defined()) {  // dx (M, K) = g (M, O) @ w (O, K)
      packed_gemm_by_rows<F>(M, K, O, gp, O, w.data<F>(), K, 1, nullptr, nullptr, dx.data<F>(), K,
                             gemm_threads(M * O * K));
    }
    if (dw.defined()) {  // dw (O, K) = g^T (O, M) @ x (M, K), split over M
      const int threads = gemm_threads(M * O * K);
      F* out = dw.data<F>();
      if (threads <= 1) {
        gemm(true, false, O, K, M, gp, O, x.data<F>(), K, F(0), out, K);
      } else {
        std::vector<F> partial(static_cast<size_t>(threads - 1) * O * K);
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int t = 0; t < threads; ++t) {
          const auto [r0, r1] = block(M, threads, t);
          F* c = t == 0 ? out : partial.data() + static_cast<size_t>(t - 1) * O * K;
          if (r1 > r0) {
            gemm(true, false, O, K, r1 - r0, gp + r0 * O, O, x.data<F>() + r0 * K, K, F(0), c, K);
          } else {
            std::fill(c, c + O * K, F(0));
          }
        }
        for (int t = 1; t < threads; ++t) {  // fixed order: reproducible at this thread count
          const F* c = partial.data() + static_cast<size_t>(t - 1) * O * K;
#pragma omp simd
          for (int64_t i = 0; i < O * K; ++i) out[i] += c[i];
        }
      }
    }
    if (db.defined()) {  // db (O) = sum over rows of g, in row order
      // Each thread sums one block of columns over every row: a column is the same sum whatever
      // the blocks, so the result does not depend on the thread count.
      F* out = db.data<F>();
      const int threads = M * O >= kParallelGrain && !omp_in_parallel() ? omp_get_max_threads() : 1;
#pragma omp parallel for schedule(static) num_threads(threads)
      for (int t = 0; t < threads; ++t) {
        // Plain variables, not a structured binding: clang does not let the simd loop below
        // capture a binding of the enclosing scope.
        const std::pair<int64_t, int64_t> columns = block(O, threads, t);
        const int64_t c0 = columns.first, c1 = columns.second;
        std::fill(out + c0, out + c1, F(0));
        for (int64_t r = 0; r < M; ++r) {
          const F* row = gp + r * O;
#pragma omp simd
          for (int64_t o = c0; o < c1; ++o) out[o] += row[o];
        }
      }
    }
  });
}

}  // namespace tg::cpu
