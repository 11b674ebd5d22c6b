// cpu/small_gemm.h — C (M, N) = A (M, K) B (K, N) for the tiny products inside fused kernels.
//
// Attention does six products per (task, head) of sizes like 64 x 64 x 16: too small for a BLAS
// call to pay for its setup (measured: 17 GFLOP/s through cblas_sgemm), and too small for the
// compiler's plain loops, which accumulate through memory (store-to-load latency per step). So
// they go straight to the register-blocked tile of cpu/micro_kernel.h — 4 rows x 2 vectors of C,
// 8 independent FMA chains — with B read in place, unpacked.
//
// A is read through two strides (a_rs between rows, a_cs between columns), so a transposed view
// (e.g. P^T) costs nothing; B's rows must be contiguous (row stride ldb); C has row stride ldc.
// `accumulate` adds into C instead of overwriting it. Tiles of fewer rows or of one vector cover
// the edges and a scalar loop the last N mod W columns, so any M, N, K are correct
// (tests/tensor/test_attention.cpp checks odd sizes). Every element of C is the same sum in every
// path — over k in order, one fused multiply-add per step, then + C when accumulating — so the
// tiling and the vector width do not change results.
#pragma once
#include <cstdint>

#include "tensor/cpu/micro_kernel.h"

namespace tg::cpu {

namespace small_gemm_detail {

// The R x (NV * W) tile of C at c, stored or added into C.
template <int R, int NV, class F>
inline void tile(int64_t K, const F* a, int64_t a_rs, int64_t a_cs, const F* b, int64_t ldb, F* c,
                 int64_t ldc, bool accumulate) {
  using V = typename SimdVector<F>::type;
  constexpr int W = SimdVector<F>::kLanes;
  micro_tile<R, NV>(K, a, a_rs, a_cs, b, ldb, [&](int r, int v, V acc) {
    F* cp = c + r * ldc + v * W;
    store_vector(cp, accumulate ? acc + load_vector(cp) : acc);
  });
}

// Rows [i, i + R) of C over its vector columns: two-vector tiles, then one vector if left.
template <int R, class F>
inline void row_block(int64_t n_vec, int64_t K, const F* a, int64_t a_rs, int64_t a_cs, const F* B,
                      int64_t ldb, F* c, int64_t ldc, bool accumulate) {
  constexpr int W = SimdVector<F>::kLanes;
  int64_t j = 0;
  for (; j + 2 * W <= n_vec; j += 2 * W) {
    tile<R, 2>(K, a, a_rs, a_cs, B + j, ldb, c + j, ldc, accumulate);
  }
  if (j < n_vec) tile<R, 1>(K, a, a_rs, a_cs, B + j, ldb, c + j, ldc, accumulate);
}

}  // namespace small_gemm_detail

template <class F>
inline void small_gemm(int64_t M, int64_t N, int64_t K, const F* A, int64_t a_rs, int64_t a_cs,
                       const F* B, int64_t ldb, F* C, int64_t ldc, bool accumulate) {
  using namespace small_gemm_detail;
  constexpr int W = SimdVector<F>::kLanes;
  const int64_t n_vec = N / W * W;
  int64_t i = 0;
  for (; i + 4 <= M; i += 4) {
    row_block<4>(n_vec, K, A + i * a_rs, a_rs, a_cs, B, ldb, C + i * ldc, ldc, accumulate);
  }
  for (; i < M; ++i) {  // remainder rows, one at a time
    row_block<1>(n_vec, K, A + i * a_rs, a_rs, a_cs, B, ldb, C + i * ldc, ldc, accumulate);
  }
  if (n_vec < N) {  // remainder columns, scalar
    for (int64_t r = 0; r < M; ++r) {
      for (int64_t j = n_vec; j < N; ++j) {
        F s = 0;
        for (int64_t k = 0; k < K; ++k) s += A[r * a_rs + k * a_cs] * B[k * ldb + j];
        C[r * ldc + j] = accumulate ? C[r * ldc + j] + s : s;
      }
    }
  }
}

}  // namespace tg::cpu
