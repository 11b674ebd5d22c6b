// strided.h — walking N tensors of one shape with their own strides (CPU kernels' workhorse).
//
// A StridedLoop<N> describes "for every element of `shape`, visit operand k at
// offset_k + sum_d i_d * stride_k[d]". Dims are first simplified: size-1 dims dropped and adjacent
// dims merged when every operand steps through them as one (stride[d] == stride[d+1]*shape[d+1]),
// so a contiguous tensor becomes a single flat row. What is left is split into `rows` outer
// positions and an innermost run of `inner` elements with per-operand `inner_stride`; kernels
// loop over rows (in parallel when large) and run a tight loop over the inner run.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "tensor/cpu/parallel.h"
#include "tensor/shape.h"

namespace tg::cpu {

template <int N>
struct StridedLoop {
  int64_t rows = 1;
  int64_t inner = 1;
  std::array<int64_t, N> inner_stride{};
  Shape outer_shape;                     // outer dims, outermost first
  std::array<Strides, N> outer_strides;  // per operand, for outer dims

  StridedLoop(const Shape& shape, const std::array<Strides, N>& strides) {
    // 1. drop size-1 dims (their stride never matters)
    Shape s;
    std::array<Strides, N> st;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == 1) continue;
      s.push_back(shape[d]);
      for (int k = 0; k < N; ++k) st[k].push_back(strides[k][d]);
    }
    if (shape_numel(shape) == 0) {
      rows = 0;
      return;
    }
    if (s.empty()) return;  // a single element
    // 2. merge dim d into d+1 when all operands are "contiguous across" them
    Shape ms{s.back()};
    std::array<Strides, N> mst;
    for (int k = 0; k < N; ++k) mst[k].push_back(st[k].back());
    for (size_t d = s.size() - 1; d-- > 0;) {
      bool mergeable = true;
      for (int k = 0; k < N; ++k) mergeable &= st[k][d] == mst[k].back() * ms.back();
      if (mergeable) {
        ms.back() *= s[d];
      } else {
        ms.push_back(s[d]);
        for (int k = 0; k < N; ++k) mst[k].push_back(st[k][d]);
      }
    }
    // ms is innermost-first now.
    inner = ms[0];
    for (int k = 0; k < N; ++k) inner_stride[k] = mst[k][0];
    for (size_t d = ms.size(); d-- > 1;) {
      outer_shape.push_back(ms[d]);
      for (int k = 0; k < N; ++k) outer_strides[k].push_back(mst[k][d]);
      rows *= ms[d];
    }
  }

  // Element offsets (relative to each operand's base) of the first element of outer row `row`.
  std::array<int64_t, N> row_offsets(int64_t row) const {
    std::array<int64_t, N> off{};
    for (size_t d = outer_shape.size(); d-- > 0;) {
      const int64_t i = row % outer_shape[d];
      row /= outer_shape[d];
      for (int k = 0; k < N; ++k) off[k] += i * outer_strides[k][d];
    }
    return off;
  }

  bool parallel() const { return rows * inner >= kParallelGrain; }
};

// Run body(offsets, length, inner_stride) over every row, in parallel when the loop is large.
// A loop with few rows (a contiguous tensor is one row) is cut into chunks of its inner run, so
// that it still spreads over the threads.
template <int N, class Body>
void for_each_row(const StridedLoop<N>& loop, Body&& body) {
  if (loop.rows == 0) return;
  const int64_t chunk =
      loop.rows >= 16 ? loop.inner : std::max<int64_t>(4096, (loop.inner + 15) / 16);
  const int64_t chunks_per_row = (loop.inner + chunk - 1) / chunk;
  const int64_t tasks = loop.rows * chunks_per_row;
#pragma omp parallel for schedule(static) if (loop.parallel())
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t r = t / chunks_per_row;
    const int64_t start = (t % chunks_per_row) * chunk;
    std::array<int64_t, N> off = loop.row_offsets(r);
    for (int k = 0; k < N; ++k) off[k] += start * loop.inner_stride[k];
    body(off, std::min(chunk, loop.inner - start), loop.inner_stride);
  }
}

}  // namespace tg::cpu
