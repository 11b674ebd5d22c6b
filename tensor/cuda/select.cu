// select.cu — where, gather / scatter_add and index_select / index_add (embedding is index_select
// along dim 0) on the GPU.
//
// The callers (select.cpp) have checked every index against its bound. where and the gathers are
// plain elementwise kernels (one thread per output element). The adds give every output element to
// exactly one thread, which adds its contributions in index order — no atomics, so the result
// is deterministic and equal to the CPU's order of summation:
//   scatter_add  one thread per "line" (all positions that differ only along dim);
//   index_add    one thread per (outer position, column), looping over the n indices.
#include <cstdint>

#include "tensor/cuda/launch.cuh"
#include "tensor/kernels.h"

namespace tg::cuda {

namespace {

// out = cond != 0 ? a : b, every operand through its strides.
template <class T, class C>
__global__ void where_kernel(Strided<4> s, int64_t n, T* out, const C* cond, const T* a,
                             const T* b) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t off[4];
    s.offsets(i, off);
    out[off[0]] = cond[off[1]] != C(0) ? a[off[2]] : b[off[3]];
  }
}

Strides with(Strides strides, int64_t dim, int64_t value) {
  strides[dim] = value;
  return strides;
}

// out[.., i, ..] = x[.., index[.., i, ..], ..]: x's offset without dim, plus index * x_step.
template <class T>
__global__ void gather_kernel(Strided<3> s, int64_t n, T* out, const int64_t* index, const T* x,
                              int64_t x_step) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < n;
       t += int64_t{gridDim.x} * blockDim.x) {
    int64_t off[3];
    s.offsets(t, off);
    out[off[0]] = x[off[2] + index[off[1]] * x_step];
  }
}

// For each of `lines` lines: out[.., index[.., i, ..], ..] += src[.., i, ..] for i = 0..n-1.
template <class T>
__global__ void scatter_add_kernel(Strided<3> s, int64_t lines, int64_t n, T* out, int64_t out_step,
                                   const int64_t* index, int64_t index_step, const T* src,
                                   int64_t src_step) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < lines;
       t += int64_t{gridDim.x} * blockDim.x) {
    int64_t off[3];
    s.offsets(t, off);
    for (int64_t i = 0; i < n; ++i) {
      out[off[0] + index[off[1] + i * index_step] * out_step] += src[off[2] + i * src_step];
    }
  }
}

// out (O, n, I) [o, i, c] = x (O, V, I) [o, index[i], c]
template <class T>
__global__ void index_select_kernel(const T* x, const int64_t* index, Around s, int64_t n, T* out) {
  const int64_t total = s.outer * n * s.inner;
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < total;
       t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = t % s.inner, i = (t / s.inner) % n, o = t / (s.inner * n);
    out[t] = x[(o * s.at + index[i]) * s.inner + c];
  }
}

// out (O, V, I) [o, index[i], c] += src (O, n, I) [o, i, c], one thread per (o, c).
template <class T>
__global__ void index_add_kernel(T* out, const int64_t* index, Around s, int64_t n, const T* src) {
  const int64_t total = s.outer * s.inner;
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < total;
       t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = t % s.inner, o = t / s.inner;
    for (int64_t i = 0; i < n; ++i) {
      out[(o * s.at + index[i]) * s.inner + c] += src[(o * n + i) * s.inner + c];
    }
  }
}

}  // namespace

void where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const Strided<4> s =
      make_strided<4>(out.shape(), {out.strides(), cond.strides(), a.strides(), b.strides()});
  dispatch_all(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    dispatch_all(cond.dtype(), [&](auto cond_tag) {
      using C = decltype(cond_tag);
      where_kernel<<<blocks_for(n), kThreads>>>(s, n, out.device_data<T>(), cond.device_data<C>(),
                                                a.device_data<T>(), b.device_data<T>());
      CUDA_CHECK_LAUNCH();
    });
  });
}

void gather(const Tensor& x, int64_t dim, const Tensor& index, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const Strided<3> s =
      make_strided<3>(index.shape(), {out.strides(), index.strides(), with(x.strides(), dim, 0)});
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    gather_kernel<<<blocks_for(n), kThreads>>>(s, n, out.device_data<T>(),
                                               index.device_data<int64_t>(), x.device_data<T>(),
                                               x.stride(dim));
    CUDA_CHECK_LAUNCH();
  });
}

void scatter_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  if (index.numel() == 0) return;
  const int64_t n = index.size(dim), lines = index.numel() / n;
  Shape line_shape = index.shape();
  line_shape[dim] = 1;
  const Strided<3> s = make_strided<3>(line_shape, {out.strides(), index.strides(), src.strides()});
  dispatch_all(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    scatter_add_kernel<<<blocks_for(lines), kThreads>>>(
        s, lines, n, out.device_data<T>(), out.stride(dim), index.device_data<int64_t>(),
        index.stride(dim), src.device_data<T>(), src.stride(dim));
    CUDA_CHECK_LAUNCH();
  });
}

void index_select(const Tensor& x, int64_t dim, const Tensor& index, Tensor& out) {
  if (out.numel() == 0) return;
  const Around s = around(x.shape(), dim);  // x (O, V, I)
  const int64_t n = index.numel();          // out (O, n, I)
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    index_select_kernel<<<blocks_for(out.numel()), kThreads>>>(
        x.device_data<T>(), index.device_data<int64_t>(), s, n, out.device_data<T>());
    CUDA_CHECK_LAUNCH();
  });
}

void index_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  if (src.numel() == 0) return;
  const Around s = around(out.shape(), dim);  // out (O, V, I)
  const int64_t n = index.numel();            // src (O, n, I)
  dispatch_all(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    index_add_kernel<<<blocks_for(s.outer * s.inner), kThreads>>>(
        out.device_data<T>(), index.device_data<int64_t>(), s, n, src.device_data<T>());
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace tg::cuda
