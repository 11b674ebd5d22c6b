// softmax.cu — softmax and log-softmax along any dim, forward and backward, on the GPU: the twin of
// cpu/softmax.cpp, where the derivation is.
//
// Dimension letters: R = rows, C = the length of one row (the softmax dim).
// One block per row; the threads of a block stride over the row and combine their partial sums
// in a fixed tree (block_sum), so results are the same on every run. The arithmetic is the CPU's
// step by step: sums accumulated in double, everything else in T. Rows may lie along any dim with
// any strides: row r's first element is found through Strided (the tensor's shape with the
// softmax dim set to 1), and its elements follow at the dim's stride.
#include <cmath>
#include <cstdint>

#include "tensor/cuda/launch.cuh"
#include "tensor/kernels.h"
#include "tensor/scalar_ops.h"

namespace tg::cuda {

namespace {

struct MaxOf {  // as the CPU's row max: a NaN element does not win here; it reaches the output
  __device__ double operator()(double a, double b) const { return b > a ? b : a; }
};

// ---------------------------------------------------------------- forward
// y = softmax(x) or log_softmax(x) along rows (x_step, y_step between elements of a row).
template <class T>
__global__ void softmax_kernel(Strided<2> rows, int64_t R, int64_t C, const T* x, int64_t x_step,
                               T* y, int64_t y_step, bool log) {
  __shared__ double shared[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    int64_t off[2];
    rows.offsets(r, off);
    const T* xr = x + off[0];
    T* yr = y + off[1];
    // softmax(x)_i = exp(x_i - max) / sum_j exp(x_j - max);  log_softmax: x_i - max - log(sum)
    double m = -INFINITY;
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) m = MaxOf{}(m, double(xr[i * x_step]));
    const T max = static_cast<T>(block_reduce(m, shared, double(-INFINITY), MaxOf{}));
    double sum = 0.0;
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) sum += exp_of(xr[i * x_step] - max);
    sum = block_sum(sum, shared);
    if (log) {
      const T shift = max + static_cast<T>(::log(sum));
      for (int64_t i = threadIdx.x; i < C; i += blockDim.x) yr[i * y_step] = xr[i * x_step] - shift;
    } else {
      const T scale = static_cast<T>(1.0 / sum);
      for (int64_t i = threadIdx.x; i < C; i += blockDim.x) {
        yr[i * y_step] = exp_of(xr[i * x_step] - max) * scale;
      }
    }
  }
}

// ---------------------------------------------------------------- backward
// dx from g = dL/dy and the forward output y:
//   softmax:      dx_i = y_i * (g_i - sum_j g_j y_j)
//   log_softmax:  dx_i = g_i - exp(y_i) * sum_j g_j
template <class T>
__global__ void softmax_backward_kernel(Strided<3> rows, int64_t R, int64_t C, const T* g,
                                        int64_t g_step, const T* y, int64_t y_step, T* dx,
                                        int64_t dx_step, bool log) {
  __shared__ double shared[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    int64_t off[3];
    rows.offsets(r, off);
    const T* gr = g + off[0];
    const T* yr = y + off[1];
    T* dxr = dx + off[2];
    double sum = 0.0;
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) {
      sum += log ? double(gr[i * g_step]) : double(gr[i * g_step]) * yr[i * y_step];
    }
    const T s = static_cast<T>(block_sum(sum, shared));
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) {
      const T gi = gr[i * g_step], yi = yr[i * y_step];
      dxr[i * dx_step] = log ? gi - exp_of(yi) * s : yi * (gi - s);
    }
  }
}

// The shape walked to find each row's first element: x's shape with `dim` set to 1.
Shape row_starts(Shape shape, int64_t dim) {
  shape[dim] = 1;
  return shape;
}

}  // namespace

void softmax(const Tensor& x, int64_t dim, bool log, Tensor& y) {
  const int64_t C = x.size(dim);
  if (x.numel() == 0) return;
  const int64_t R = x.numel() / C;
  const Strided<2> rows = make_strided<2>(row_starts(x.shape(), dim), {x.strides(), y.strides()});
  dispatch_float(x.dtype(), log ? "log_softmax" : "softmax", [&](auto tag) {
    using T = decltype(tag);
    softmax_kernel<<<row_blocks(R), row_threads(C)>>>(rows, R, C, x.device_data<T>(), x.stride(dim),
                                                      y.device_data<T>(), y.stride(dim), log);
    CUDA_CHECK_LAUNCH();
  });
}

void softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim, bool log,
                      Tensor& grad_x) {
  const int64_t C = y.size(dim);
  if (y.numel() == 0) return;
  const int64_t R = y.numel() / C;
  const Strided<3> rows = make_strided<3>(row_starts(y.shape(), dim),
                                          {grad_y.strides(), y.strides(), grad_x.strides()});
  dispatch_float(y.dtype(), log ? "log_softmax_backward" : "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    softmax_backward_kernel<<<row_blocks(R), row_threads(C)>>>(
        rows, R, C, grad_y.device_data<T>(), grad_y.stride(dim), y.device_data<T>(), y.stride(dim),
        grad_x.device_data<T>(), grad_x.stride(dim), log);
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace tg::cuda
