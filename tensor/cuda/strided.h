// strided.h — the N-d strided index of the CUDA kernels, in plain C++ so the CPU tests can check
// it.
//
// Strided<N> describes N tensors of one shape, each with its own strides (in elements; 0 on
// broadcast dims), for a kernel that visits every element by its linear (row-major) index:
// offsets(i) gives each operand's element offset. make_strided() simplifies the dims first, as
// cpu/strided.h does (size-1 dims dropped, dims that every operand walks as one merged), so a
// contiguous tensor becomes one flat dim and costs one division per element. The struct is passed
// to kernels by value.
#pragma once
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "tensor/shape.h"

#ifdef __CUDACC__
#define TG_HOST_DEVICE __host__ __device__
#else
#define TG_HOST_DEVICE
#endif

namespace tg::cuda {

constexpr int kMaxDims = 8;  // dims left after simplification

template <int N>
struct Strided {
  int rank = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};

  TG_HOST_DEVICE void offsets(int64_t i, int64_t (&off)[N]) const {
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t q = i / sizes[d], r = i - q * sizes[d];
      for (int k = 0; k < N; ++k) off[k] += r * strides[k][d];
      i = q;
    }
  }
};

// The simplified description of `shape` walked with these per-operand strides.
template <int N>
Strided<N> make_strided(const Shape& shape, const std::array<Strides, N>& strides) {
  Strided<N> s;
  // Innermost first: drop size-1 dims, merge dim d into the one inside it when every operand
  // steps through both as one (stride[d] == stride[d+1] * size[d+1]).
  int64_t sizes[64];
  int64_t st[N][64];
  int rank = 0;
  for (size_t d = shape.size(); d-- > 0;) {
    if (shape[d] == 1) continue;
    bool merge = rank > 0;
    for (int k = 0; k < N && merge; ++k) {
      merge = strides[k][d] == st[k][rank - 1] * sizes[rank - 1];
    }
    if (merge) {
      sizes[rank - 1] *= shape[d];
    } else {
      if (rank == 64) throw std::invalid_argument("cuda: too many dims");
      sizes[rank] = shape[d];
      for (int k = 0; k < N; ++k) st[k][rank] = strides[k][d];
      ++rank;
    }
  }
  if (rank > kMaxDims) {
    throw std::invalid_argument("cuda: a strided operand of shape " + shape_str(shape) +
                                " has more than " + std::to_string(kMaxDims) +
                                " non-mergeable dims");
  }
  s.rank = rank;
  for (int d = 0; d < rank; ++d) {  // back to outermost first
    s.sizes[d] = sizes[rank - 1 - d];
    for (int k = 0; k < N; ++k) s.strides[k][d] = st[k][rank - 1 - d];
  }
  return s;
}

}  // namespace tg::cuda
