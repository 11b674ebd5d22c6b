// layer_norm.cu — layer norm over the last dim, forward and backward, on the GPU: the twin of
// cpu/layer_norm.cpp, where the derivation is.
//
// Dimension letters: R = rows, C = the normalised last dim. Inputs are contiguous (the caller
// copies). One block per row; the threads of a block stride over the row and combine their
// partial sums in a fixed tree (block_sum), so results are the same on every run. The arithmetic
// is the CPU's step by step: sums accumulated in double, everything else in T. dweight and dbias
// are summed per column over fixed parts of the rows, then the parts in order: deterministic.
#include <cmath>
#include <cstdint>

#include "tensor/cuda/launch.cuh"
#include "tensor/kernels.h"

namespace tg::cuda {

namespace {

// ---------------------------------------------------------------- forward
// Per row:  mean = sum_i x_i / C,  var = sum_i (x_i - mean)^2 / C,  rstd = 1 / sqrt(var + eps),
//           y_i = (x_i - mean) * rstd * w_i + b_i          (w = 1, b = 0 when null)
template <class T>
__global__ void layer_norm_kernel(const T* x, const T* w, const T* b, double eps, int64_t R,
                                  int64_t C, T* y, T* mean, T* rstd) {
  __shared__ double shared[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const T* xr = x + r * C;  // (C)
    T* yr = y + r * C;        // (C)
    double sum = 0.0;
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) sum += xr[i];
    const double m = block_sum(sum, shared) / C;
    double sq = 0.0;
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) sq += (xr[i] - m) * (xr[i] - m);
    const double s = 1.0 / ::sqrt(block_sum(sq, shared) / C + eps);
    if (threadIdx.x == 0) {
      mean[r] = static_cast<T>(m);
      rstd[r] = static_cast<T>(s);
    }
    const T mt = static_cast<T>(m), st = static_cast<T>(s);
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) {
      const T norm = (xr[i] - mt) * st;
      yr[i] = norm * (w ? w[i] : T(1)) + (b ? b[i] : T(0));
    }
  }
}

// ---------------------------------------------------------------- backward
// dx, the llm.c formulation. With norm_i = (x_i - mean) * rstd and dnorm_i = g_i * w_i:
//   dx_i = rstd * (dnorm_i - mean_j(dnorm_j) - norm_i * mean_j(dnorm_j * norm_j))
template <class T>
__global__ void layer_norm_dx_kernel(const T* g, const T* x, const T* w, const T* mean,
                                     const T* rstd, int64_t R, int64_t C, T* dx) {
  __shared__ double shared[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const T* gr = g + r * C;  // (C)
    const T* xr = x + r * C;  // (C)
    T* dxr = dx + r * C;      // (C)
    const T m = mean[r], s = rstd[r];
    double sum_dnorm = 0.0, sum_dnorm_norm = 0.0;
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) {
      const T norm = (xr[i] - m) * s;
      const T dnorm = gr[i] * (w ? w[i] : T(1));
      sum_dnorm += dnorm;
      sum_dnorm_norm += static_cast<double>(dnorm) * norm;
    }
    const T mean_dnorm = static_cast<T>(block_sum(sum_dnorm, shared) / C);
    const T mean_dnorm_norm = static_cast<T>(block_sum(sum_dnorm_norm, shared) / C);
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) {
      const T norm = (xr[i] - m) * s;
      const T dnorm = gr[i] * (w ? w[i] : T(1));
      dxr[i] = s * (dnorm - mean_dnorm - norm * mean_dnorm_norm);
    }
  }
}

// dweight_i = sum over rows of g_i * norm_i, dbias_i = sum over rows of g_i, in two passes:
// part p of the rows (rows_per_part each) into partial (P, 2, C) in double, one thread per column
// (a warp reads consecutive columns of one row); then the parts are added in order.
template <class T>
__global__ void layer_norm_dwdb_partial_kernel(const T* g, const T* x, const T* mean, const T* rstd,
                                               int64_t R, int64_t C, int64_t rows_per_part,
                                               double* partial) {
  const int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  const int64_t p = blockIdx.y;
  if (c >= C) return;
  double dw = 0.0, db = 0.0;
  const int64_t end = (p + 1) * rows_per_part < R ? (p + 1) * rows_per_part : R;
  for (int64_t r = p * rows_per_part; r < end; ++r) {
    const T norm = (x[r * C + c] - mean[r]) * rstd[r];
    dw += static_cast<double>(g[r * C + c]) * norm;
    db += g[r * C + c];
  }
  partial[(p * 2) * C + c] = dw;
  partial[(p * 2 + 1) * C + c] = db;
}

template <class T>
__global__ void layer_norm_dwdb_sum_kernel(const double* partial, int64_t P, int64_t C, T* dw,
                                           T* db) {
  // Grid-stride: the launch caps the grid (launch.cuh), so one thread may own several columns.
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < C;
       c += int64_t{gridDim.x} * blockDim.x) {
    double sw = 0.0, sb = 0.0;
    for (int64_t p = 0; p < P; ++p) {
      sw += partial[(p * 2) * C + c];
      sb += partial[(p * 2 + 1) * C + c];
    }
    dw[c] = static_cast<T>(sw);
    db[c] = static_cast<T>(sb);
  }
}

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.device_data<T>() : nullptr;
}

}  // namespace

void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor& y,
                Tensor& mean, Tensor& rstd) {
  const int64_t C = x.size(-1), R = C == 0 ? 0 : x.numel() / C;
  if (R == 0) return;
  dispatch_float(x.dtype(), "layer_norm", [&](auto tag) {
    using T = decltype(tag);
    layer_norm_kernel<<<row_blocks(R), row_threads(C)>>>(
        x.device_data<T>(), data_or_null<T>(weight), data_or_null<T>(bias), eps, R, C,
        y.device_data<T>(), mean.device_data<T>(), rstd.device_data<T>());
    CUDA_CHECK_LAUNCH();
  });
}

void layer_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                         const Tensor& mean, const Tensor& rstd, Tensor& dx, Tensor& dweight,
                         Tensor& dbias) {
  const int64_t C = x.size(-1), R = C == 0 ? 0 : x.numel() / C;
  if (weight.defined() && (R == 0 || C == 0)) {
    fill(dweight, 0.0);
    fill(dbias, 0.0);
  }
  if (R == 0) return;
  dispatch_float(x.dtype(), "layer_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    layer_norm_dx_kernel<<<row_blocks(R), row_threads(C)>>>(
        grad_y.device_data<T>(), x.device_data<T>(), data_or_null<T>(weight), mean.device_data<T>(),
        rstd.device_data<T>(), R, C, dx.device_data<T>());
    CUDA_CHECK_LAUNCH();
    if (!weight.defined()) return;
    const int64_t per_part = (R + 255) / 256 < 16 ? 16 : (R + 255) / 256;  // rows; P <= 256
    const int64_t P = (R + per_part - 1) / per_part;
    Tensor partial({P, 2, C}, DType::F64, Device::CUDA);  // (P, 2, C)
    const dim3 grid(static_cast<unsigned>((C + kThreads - 1) / kThreads), static_cast<unsigned>(P));
    layer_norm_dwdb_partial_kernel<<<grid, kThreads>>>(
        grad_y.device_data<T>(), x.device_data<T>(), mean.device_data<T>(), rstd.device_data<T>(),
        R, C, per_part, partial.device_data<double>());
    CUDA_CHECK_LAUNCH();
    layer_norm_dwdb_sum_kernel<<<blocks_for(C), kThreads>>>(
        partial.device_data<double>(), P, C, dweight.device_data<T>(), dbias.device_data<T>());
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace tg::cuda
