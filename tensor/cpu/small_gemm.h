// cpu/small_gemm.h — C (M, N) = A (M, K) B (K, N) for the tiny products inside fused kernels.
//
// Attention does six products per (task, head) of sizes like 64 x 64 x 16: too small for a BLAS
// call to pay for its setup (measured: 17 GFLOP/s through cblas_sgemm), and too small for the
// compiler's plain loops, which accumulate through memory (store-to-load latency per step). This
// is the classic register-blocked micro-kernel instead: a 4 x W tile of C (W = one 64-byte vector,
// 16 floats or 8 doubles) lives in registers while k runs over K, each step loading one vector of
// B's row k and broadcasting four elements of A's column k. GCC's vector extensions keep it
// portable: on AVX-512 a vector is one register, on AVX2 two.
//
// A is read through two strides (a_rs between rows, a_cs between columns), so a transposed view
// (e.g. P^T) costs nothing; B's rows must be contiguous (row stride ldb); C has row stride ldc.
// `accumulate` adds into C instead of overwriting it. Remainder rows and columns take a scalar
// path, so any M, N, K are correct (tests/tensor/test_attention.cpp checks odd sizes).
#pragma once
#include <cstdint>
#include <cstring>

// GCC warns (-Wpsabi) that returning a 64-byte vector from the load lambda would pass it
// differently with and without AVX-512. The lambdas below are always inlined, so no call with
// that ABI ever happens: the note is silenced for this header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace tg::cpu {

template <class F>
struct Vec64 {
  static constexpr int kLanes = 64 / sizeof(F);
  typedef F type __attribute__((vector_size(64)));
};

template <class F>
inline void small_gemm(int64_t M, int64_t N, int64_t K, const F* A, int64_t a_rs, int64_t a_cs,
                       const F* B, int64_t ldb, F* C, int64_t ldc, bool accumulate) {
  using V = typename Vec64<F>::type;
  constexpr int W = Vec64<F>::kLanes;
  auto load = [](const F* p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
  };
  auto store = [](F* p, V v) { std::memcpy(p, &v, sizeof(V)); };
  const int64_t n_vec = N / W * W;
  int64_t i = 0;
  for (; i + 4 <= M; i += 4) {  // 4-row blocks
    const F* a0 = A + i * a_rs;
    for (int64_t j = 0; j < n_vec; j += W) {
      V c0 = {}, c1 = {}, c2 = {}, c3 = {};
      for (int64_t k = 0; k < K; ++k) {
        const V b = load(B + k * ldb + j);
        const F* ak = a0 + k * a_cs;
        c0 += ak[0] * b;
        c1 += ak[a_rs] * b;
        c2 += ak[2 * a_rs] * b;
        c3 += ak[3 * a_rs] * b;
      }
      F* c = C + i * ldc + j;
      if (accumulate) {
        c0 += load(c), c1 += load(c + ldc), c2 += load(c + 2 * ldc), c3 += load(c + 3 * ldc);
      }
      store(c, c0), store(c + ldc, c1), store(c + 2 * ldc, c2), store(c + 3 * ldc, c3);
    }
  }
  for (; i < M; ++i) {  // remainder rows, one at a time
    const F* a0 = A + i * a_rs;
    for (int64_t j = 0; j < n_vec; j += W) {
      V c0 = {};
      for (int64_t k = 0; k < K; ++k) c0 += a0[k * a_cs] * load(B + k * ldb + j);
      F* c = C + i * ldc + j;
      if (accumulate) c0 += load(c);
      store(c, c0);
    }
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

#pragma GCC diagnostic pop
