// cpu/micro_kernel.h — the register-blocked tile at the heart of our own GEMMs (cpu/small_gemm.h
// for attention's tiny products, cpu/packed_gemm.h for nn.Linear's).
//
// A tile of R rows x NV vectors of C lives in registers while k runs over K; each step loads NV
// vectors of B's row k and broadcasts R elements of A's column k, R * NV independent FMA chains
// (R = 6, NV = 2 at most: 12 accumulators, 2 B vectors and a broadcast fill AVX2's 16 registers).
// When the loop ends, the caller's epilogue receives each accumulator and stores it (plain,
// accumulating into C, adding a bias, ...).
//
// The vector is the target's register (kVectorBytes: 64 bytes with AVX-512F, 32 with AVX, else
// 16), written with GCC's vector extensions. It must match: a 64-byte vector on an AVX2 machine
// is two registers to GCC, and a 4 x 16-float tile then no longer fits in the 16 registers and
// spills to the stack on every step (measured: fused attention backward 0.5x the composed ops).
//
// A is read through two strides (a_rs between rows, a_cs between columns), so a transposed view
// costs nothing; B's rows are contiguous (row stride ldb). Every element of the tile is the same
// sum whatever R and NV: over k in order, one fused multiply-add per step, starting from 0.
#pragma once
#include <cstdint>
#include <cstring>

namespace tg::cpu {

#if defined(__AVX512F__)
inline constexpr int kVectorBytes = 64;
#elif defined(__AVX__)
inline constexpr int kVectorBytes = 32;
#else
inline constexpr int kVectorBytes = 16;
#endif

template <class F>
struct SimdVector {
  static constexpr int kLanes = kVectorBytes / sizeof(F);
  typedef F type __attribute__((vector_size(kVectorBytes)));
};

template <class F>
inline typename SimdVector<F>::type load_vector(const F* p) {
  typename SimdVector<F>::type v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <class F>
inline void store_vector(F* p, typename SimdVector<F>::type v) {
  std::memcpy(p, &v, sizeof(v));
}

// The R x (NV * W) tile of A (rows at a) times B (columns at b); epilogue(r, v, acc) gets the
// accumulator of row r, vector v.
template <int R, int NV, class F, class Epilogue>
inline void micro_tile(int64_t K, const F* a, int64_t a_rs, int64_t a_cs, const F* b, int64_t ldb,
                       Epilogue&& epilogue) {
  using V = typename SimdVector<F>::type;
  constexpr int W = SimdVector<F>::kLanes;
  V acc[R][NV] = {};
  for (int64_t k = 0; k < K; ++k) {
    V bk[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bk[v] = load_vector(b + k * ldb + v * W);
    const F* ak = a + k * a_cs;
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const F s = ak[r * a_rs];
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[r][v] += s * bk[v];
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) epilogue(r, v, acc[r][v]);
  }
}

}  // namespace tg::cpu
