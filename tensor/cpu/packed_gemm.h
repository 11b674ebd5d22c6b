// cpu/packed_gemm.h — C (M, N) = R + (A (M, K) B (K, N) + bias), one thread, for nn.Linear's
// forward (R: a residual added in the same pass, or none) and input gradient (cpu/linear.cpp).
//
// Why not BLAS: at TGMM's sizes (K and N of 64..512, M of thousands) OpenBLAS packs both operands
// on every call and zeroes or pre-fills C, and at K = 64 the copies cost a third of its kernel's
// time (perf, tiny training step: copies 12% of the step against 42% in the kernel itself). Here
// only B, the small weight, is packed; A's rows are read in place by the micro-kernel's
// broadcasts, and the bias and the residual are added as each tile is stored. Measured on one AVX2
// core, the shapes of a TGMM layer ran at 70-90 GFLOP/s against OpenBLAS's 42-75.
//
// Layout. B's columns are packed in panels of NR = 2 vectors (16 floats on AVX2): panel p holds
// B (k, p NR + c) at packed[(p kc + k) NR + c] for the kc rows of one K block, zero past N, so
// every tile of the micro-kernel (6 rows x NR, cpu/micro_kernel.h) reads one contiguous panel.
// Loops, outermost first: K blocks of kKBlock rows of B (a panel block stays in L2), blocks of
// kRowBlock rows of A (they stay in L1/L2 while every panel passes), panels, 6-row tiles. Edges:
// tiles of 1..5 rows, and a panel cut by N stores its valid columns one by one.
//
// Results. Element (i, j) is R_ij + (((s_1 + bias_j) + s_2) + ...), s_b the sum over K block b
// in order of k (one FMA per step): independent of the thread count (threads split the rows) and
// of M, and with one K block (K <= 256) the same as adding the bias and then the residual in two
// separate passes.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "tensor/cpu/micro_kernel.h"

namespace tg::cpu {

namespace packed_gemm_detail {

inline constexpr int64_t kKBlock = 256;
inline constexpr int64_t kRowBlock = 96;
inline constexpr int kTileRows = 6;

// Packs rows [k0, k0 + kc) of B (element (k, n) at B[k b_rs + n b_cs]) into NR-wide panels.
template <class F>
void pack_panels(const F* B, int64_t b_rs, int64_t b_cs, int64_t k0, int64_t kc, int64_t N,
                 F* packed) {
  constexpr int64_t NR = 2 * SimdVector<F>::kLanes;
  for (int64_t j = 0; j < N; j += NR) {
    F* panel = packed + j * kc;  // (kc, NR)
    const int64_t cols = std::min(NR, N - j);
    if (b_cs == 1) {  // rows of B contiguous
      for (int64_t k = 0; k < kc; ++k) {
        const F* src = B + (k0 + k) * b_rs + j;
        for (int64_t c = 0; c < NR; ++c) panel[k * NR + c] = c < cols ? src[c] : F(0);
      }
    } else {  // columns of B contiguous (b_rs == 1): B is a transposed weight
      for (int64_t c = 0; c < NR; ++c) {
        const F* src = B + k0 * b_rs + (j + c) * b_cs;
        for (int64_t k = 0; k < kc; ++k) panel[k * NR + c] = c < cols ? src[k * b_rs] : F(0);
      }
    }
  }
}

// What a tile adds to its sums as it stores them: the first K block starts from the bias (or 0),
// later ones from C; the last adds the residual (row stride ldc, like C) after that.
template <class F>
struct TileEnd {
  const F* bias;      // (N) or null, at the panel's first column
  const F* residual;  // (M, N) or null, at the tile's first element
  bool first, last;
};

// Rows [i, i + R) of C times one panel: columns [j, j + cols) of C. A panel cut by N (cols < NR)
// stores lane by lane.
template <int R, class F>
inline void tile(int64_t kc, const F* a, int64_t a_rs, int64_t a_cs, const F* panel, int64_t cols,
                 TileEnd<F> end, F* c, int64_t ldc) {
  using V = typename SimdVector<F>::type;
  constexpr int W = SimdVector<F>::kLanes;
  const F* bias = end.first ? end.bias : nullptr;
  const F* res = end.last ? end.residual : nullptr;
  if (cols == 2 * W) {
    micro_tile<R, 2>(kc, a, a_rs, a_cs, panel, 2 * W, [=](int r, int v, V acc) {
      F* cp = c + r * ldc + v * W;
      V out = acc + (!end.first ? load_vector(cp) : bias ? load_vector(bias + v * W) : V{});
      if (res) out = load_vector(res + r * ldc + v * W) + out;
      store_vector(cp, out);
    });
    return;
  }
  micro_tile<R, 2>(kc, a, a_rs, a_cs, panel, 2 * W, [=](int r, int v, V acc) {
    F* cp = c + r * ldc + v * W;
    for (int64_t l = 0; l < std::min<int64_t>(W, cols - v * W); ++l) {
      F out = acc[l] + (!end.first ? cp[l] : bias ? bias[v * W + l] : F(0));
      if (res) out = res[r * ldc + v * W + l] + out;
      cp[l] = out;
    }
  });
}

// The 1..5 rows left after the 6-row tiles.
template <class F>
inline void edge_tile(int64_t rows, int64_t kc, const F* a, int64_t a_rs, int64_t a_cs,
                      const F* panel, int64_t cols, TileEnd<F> end, F* c, int64_t ldc) {
  switch (rows) {
    case 5:
      tile<5>(kc, a, a_rs, a_cs, panel, cols, end, c, ldc);
      break;
    case 4:
      tile<4>(kc, a, a_rs, a_cs, panel, cols, end, c, ldc);
      break;
    case 3:
      tile<3>(kc, a, a_rs, a_cs, panel, cols, end, c, ldc);
      break;
    case 2:
      tile<2>(kc, a, a_rs, a_cs, panel, cols, end, c, ldc);
      break;
    case 1:
      tile<1>(kc, a, a_rs, a_cs, panel, cols, end, c, ldc);
      break;
    default:
      break;
  }
}

}  // namespace packed_gemm_detail

// C (M, N) = residual + (A (M, K) B (K, N) + bias): bias (N) and residual (M, N, row stride ldc)
// may be null. A (i, k) is A[i a_rs + k a_cs], B (k, n) is B[k b_rs + n b_cs] with b_cs == 1 or
// b_rs == 1; C has row stride ldc. One thread.
template <class F>
void packed_gemm(int64_t M, int64_t N, int64_t K, const F* A, int64_t a_rs, int64_t a_cs,
                 const F* B, int64_t b_rs, int64_t b_cs, const F* bias, const F* residual, F* C,
                 int64_t ldc) {
  using namespace packed_gemm_detail;
  constexpr int64_t NR = 2 * SimdVector<F>::kLanes;
  const int64_t n_padded = (N + NR - 1) / NR * NR;
  thread_local std::vector<F> packed;  // (n_padded / NR, kc, NR), kept between calls
  if (K == 0) {                        // no products: C is the bias and the residual
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        const F b = bias ? bias[j] : F(0);
        C[i * ldc + j] = residual ? residual[i * ldc + j] + b : b;
      }
    }
    return;
  }
  for (int64_t k0 = 0; k0 < K; k0 += kKBlock) {
    const int64_t kc = std::min(kKBlock, K - k0);
    packed.resize(static_cast<size_t>(n_padded * kc));
    pack_panels(B, b_rs, b_cs, k0, kc, N, packed.data());
    for (int64_t i0 = 0; i0 < M; i0 += kRowBlock) {
      const int64_t i1 = std::min(M, i0 + kRowBlock);
      for (int64_t j = 0; j < N; j += NR) {
        const F* panel = packed.data() + j * kc;
        const int64_t cols = std::min(NR, N - j);
        auto end_at = [&](int64_t i) {
          return TileEnd<F>{bias ? bias + j : nullptr, residual ? residual + i * ldc + j : nullptr,
                            k0 == 0, k0 + kc == K};
        };
        int64_t i = i0;
        for (; i + kTileRows <= i1; i += kTileRows) {
          tile<kTileRows>(kc, A + i * a_rs + k0 * a_cs, a_rs, a_cs, panel, cols, end_at(i),
                          C + i * ldc + j, ldc);
        }
        edge_tile(i1 - i, kc, A + i * a_rs + k0 * a_cs, a_rs, a_cs, panel, cols, end_at(i),
                  C + i * ldc + j, ldc);
      }
    }
  }
}

}  // namespace tg::cpu
