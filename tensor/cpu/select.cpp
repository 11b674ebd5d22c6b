// cpu/select.cpp — where, gather / scatter_add, index_select / index_add (embedding) on the CPU.
//
// gather and scatter_add walk the index tensor one "line" at a time: a line is every position
// that differs only along `dim`. Lines are split over threads; within a line the loop runs along
// dim in order. Two positions on different lines differ outside dim, so they touch different
// output elements: scatter_add needs no atomics and sums in a fixed order.
#include "tensor/kernels.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "tensor/cpu/parallel.h"
#include "tensor/cpu/strided.h"

namespace tg::cpu {

namespace {

Shape drop(Shape v, int64_t dim) {
  v.erase(v.begin() + dim);
  return v;
}

// Call body(offsets) for every element of `loop`, in parallel when elements * work is large.
// Each element is visited by exactly one thread.
template <int N, class Body>
void for_each_element(const StridedLoop<N>& loop, int64_t work, Body body) {
  if (loop.rows == 0) return;
  const int64_t chunk = loop.rows >= 16 ? loop.inner : std::max<int64_t>(1, (loop.inner + 15) / 16);
  const int64_t per_row = (loop.inner + chunk - 1) / chunk;
  const bool parallel = loop.rows * loop.inner * work >= kParallelGrain;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t t = 0; t < loop.rows * per_row; ++t) {
    const int64_t start = (t % per_row) * chunk, end = std::min(loop.inner, start + chunk);
    const std::array<int64_t, N> row = loop.row_offsets(t / per_row);
    for (int64_t i = start; i < end; ++i) {
      std::array<int64_t, N> off;
      for (int k = 0; k < N; ++k) off[k] = row[k] + i * loop.inner_stride[k];
      body(off);
    }
  }
}

constexpr int64_t kAddColumns = 64;  // columns of I per task in index_add

}  // namespace

void where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) {
  StridedLoop<4> loop(out.shape(), {out.strides(), cond.strides(), a.strides(), b.strides()});
  dispatch_all(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    dispatch_all(cond.dtype(), [&](auto cond_tag) {
      using C = decltype(cond_tag);
      const C* pc = cond.data<C>();
      for_each_row(loop, [&](auto off, int64_t n, auto st) {
        for (int64_t k = 0; k < n; ++k) {
          o[off[0] + k * st[0]] =
              pc[off[1] + k * st[1]] != C(0) ? pa[off[2] + k * st[2]] : pb[off[3] + k * st[3]];
        }
      });
    });
  });
}

void gather(const Tensor& x, int64_t dim, const Tensor& index, Tensor& out) {
  const int64_t n = index.size(dim);
  const int64_t out_step = out.stride(dim), index_step = index.stride(dim), x_step = x.stride(dim);
  StridedLoop<3> lines(
      drop(index.shape(), dim),
      {drop(out.strides(), dim), drop(index.strides(), dim), drop(x.strides(), dim)});
  const int64_t* idx = index.data<int64_t>();
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* from = x.data<T>();
    T* to = out.data<T>();
    for_each_element(lines, n, [&](const std::array<int64_t, 3>& off) {
      for (int64_t i = 0; i < n; ++i) {
        to[off[0] + i * out_step] = from[off[2] + idx[off[1] + i * index_step] * x_step];
      }
    });
  });
}

void scatter_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  const int64_t n = index.size(dim);
  const int64_t out_step = out.stride(dim), index_step = index.stride(dim);
  const int64_t src_step = src.stride(dim);
  StridedLoop<3> lines(
      drop(index.shape(), dim),
      {drop(out.strides(), dim), drop(index.strides(), dim), drop(src.strides(), dim)});
  const int64_t* idx = index.data<int64_t>();
  dispatch_all(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* from = src.data<T>();
    T* to = out.data<T>();
    for_each_element(lines, n, [&](const std::array<int64_t, 3>& off) {
      for (int64_t i = 0; i < n; ++i) {
        to[off[0] + idx[off[1] + i * index_step] * out_step] += from[off[2] + i * src_step];
      }
    });
  });
}

void index_select(const Tensor& x, int64_t dim, const Tensor& index, Tensor& out) {
  if (out.numel() == 0) return;
  const Around s = around(x.shape(), dim);  // x (O, V, I)
  const int64_t n = index.numel();          // out (O, n, I)
  const int64_t* idx = index.data<int64_t>();
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* from = x.data<T>();
    T* to = out.data<T>();
#pragma omp parallel for schedule(static) if (s.outer * n * s.inner >= kParallelGrain)
    for (int64_t t = 0; t < s.outer * n; ++t) {
      const int64_t o = t / n, i = t % n;
      std::memcpy(to + t * s.inner, from + (o * s.at + idx[i]) * s.inner, s.inner * sizeof(T));
    }
  });
}

void index_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  if (src.numel() == 0) return;
  const Around s = around(out.shape(), dim);  // out (O, V, I)
  const int64_t n = index.numel();            // src (O, n, I)
  const int64_t* idx = index.data<int64_t>();
  const int64_t blocks = (s.inner + kAddColumns - 1) / kAddColumns;
  dispatch_all(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* from = src.data<T>();
    T* to = out.data<T>();
    // One task owns a block of columns of one outer slice and adds every src row into it in
    // order: no two tasks write the same element.
#pragma omp parallel for schedule(static) if (s.outer * n * s.inner >= kParallelGrain)
    for (int64_t t = 0; t < s.outer * blocks; ++t) {
      const int64_t o = t / blocks, c0 = (t % blocks) * kAddColumns;
      const int64_t width = std::min(kAddColumns, s.inner - c0);
      for (int64_t i = 0; i < n; ++i) {
        T* dst = to + (o * s.at + idx[i]) * s.inner + c0;
        const T* row = from + (o * n + i) * s.inner + c0;
        for (int64_t c = 0; c < width; ++c) dst[c] += row[c];
      }
    }
  });
}

}  // namespace tg::cpu
