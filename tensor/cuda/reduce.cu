// reduce.cu — reductions of the rows of a contiguous (R, C) tensor: sum, mean, max, min,
// logsumexp, argmax.
//
// The caller (reduce.cpp) has permuted the reduced dims last and made x contiguous, so every
// reduction is "one output per row". (Sums over leading dims of a contiguous x — bias gradients —
// skip that copy: reduce_columns sums the columns of x seen as (R, K) directly.) One block per row:
// each thread folds a strided part of the row, then the block combines the threads' partial results
// in a fixed tree (the same answer on every run). Accumulation is in double, as on the CPU. The
// semantics are the CPU's:
//   max / min: NaN wins;  logsumexp: the row max is subtracted first, exp is taken in T, a
//   non-finite max (+inf, NaN, or -inf for an all -inf or empty row) is the result itself;
//   mean of nothing is NaN; argmax: the first maximum, a NaN counting as the maximum.
#include <cmath>
#include <cstdint>

#include "tensor/cuda/launch.cuh"
#include "tensor/kernels.h"
#include "tensor/scalar_ops.h"

namespace tg::cuda {

namespace {

struct MaxNan {  // the larger, or NaN if either is NaN
  __device__ double operator()(double a, double b) const { return (b > a) | (b != b) ? b : a; }
};
struct MinNan {
  __device__ double operator()(double a, double b) const { return (b < a) | (b != b) ? b : a; }
};

template <class T, class Combine>
__device__ double fold_row(const T* row, int64_t C, double identity, Combine combine,
                           double* shared) {
  double a = identity;
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) a = combine(a, static_cast<double>(row[i]));
  return block_reduce(a, shared, identity, combine);
}

template <class T>
__global__ void reduce_rows_kernel(ReduceOp op, const T* x, int64_t R, int64_t C, T* out) {
  __shared__ double shared[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const T* row = x + r * C;  // (C)
    double result = 0.0;
    if (op == ReduceOp::Sum || op == ReduceOp::Mean) {
      double a = 0.0;
      for (int64_t i = threadIdx.x; i < C; i += blockDim.x) a += static_cast<double>(row[i]);
      a = block_sum(a, shared);
      result = op == ReduceOp::Mean ? a / static_cast<double>(C) : a;
    } else if (op == ReduceOp::Max) {
      result = fold_row(row, C, -INFINITY, MaxNan{}, shared);
    } else if (op == ReduceOp::Min) {
      result = fold_row(row, C, INFINITY, MinNan{}, shared);
    } else {  // LogSumExp
      const double m = fold_row(row, C, -INFINITY, MaxNan{}, shared);
      if (isfinite(m)) {
        const T mt = static_cast<T>(m);  // exact: m is one of the elements
        double s = 0.0;
        for (int64_t i = threadIdx.x; i < C; i += blockDim.x) {
          s += static_cast<double>(exp_of(static_cast<T>(row[i] - mt)));
        }
        s = block_sum(s, shared);
        result = m + ::log(s);
      } else {
        result = m;
      }
    }
    if (threadIdx.x == 0) out[r] = static_cast<T>(result);
  }
}

// Is (v, i) a better argmax candidate than (w, j)? NaN beats numbers; the larger value wins;
// ties (and two NaNs) go to the smaller index.
template <class T>
__device__ bool better(T v, int64_t i, T w, int64_t j) {
  const bool v_nan = v != v, w_nan = w != w;
  if (v_nan != w_nan) return v_nan;
  if (!v_nan && v != w) return v > w;
  return i < j;
}

// blockDim.x is a power of two, at most 512 (row_threads).
template <class T>
__global__ void argmax_rows_kernel(const T* x, int64_t R, int64_t C, int64_t* out) {
  __shared__ T values[512];
  __shared__ int64_t indices[512];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const T* row = x + r * C;  // (C)
    T best = row[0];
    int64_t at = 0;
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) {
      if (better(row[i], i, best, at)) {
        best = row[i];
        at = i;
      }
    }
    __syncthreads();  // the previous row's result has been read
    values[threadIdx.x] = best;
    indices[threadIdx.x] = at;
    __syncthreads();
    for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
      if (threadIdx.x < half) {
        const unsigned o = threadIdx.x + half;
        if (better(values[o], indices[o], values[threadIdx.x], indices[threadIdx.x])) {
          values[threadIdx.x] = values[o];
          indices[threadIdx.x] = indices[o];
        }
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) out[r] = indices[0];
  }
}

// Column sums of x (R, K) contiguous, in two passes: part p of the rows (rows_per_part each)
// into partial (P, K) in double, one thread per column (a warp reads consecutive columns of one
// row); then the parts in order. out[k] = sum (or mean) of column k.
template <class T>
__global__ void column_partial_kernel(const T* x, int64_t R, int64_t K, int64_t rows_per_part,
                                      double* partial) {
  const int64_t k = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  const int64_t p = blockIdx.y;
  if (k >= K) return;
  const int64_t end = (p + 1) * rows_per_part < R ? (p + 1) * rows_per_part : R;
  double s = 0.0;
  for (int64_t r = p * rows_per_part; r < end; ++r) s += static_cast<double>(x[r * K + k]);
  partial[p * K + k] = s;
}

template <class T>
__global__ void column_finish_kernel(const double* partial, int64_t P, int64_t K, double divisor,
                                     T* out) {
  // Grid-stride: the launch caps the grid (launch.cuh), so one thread may own several columns.
  for (int64_t k = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; k < K;
       k += int64_t{gridDim.x} * blockDim.x) {
    double s = 0.0;
    for (int64_t p = 0; p < P; ++p) s += partial[p * K + k];
    out[k] = static_cast<T>(s / divisor);
  }
}

}  // namespace

void reduce_columns(ReduceOp op, const Tensor& x, int64_t R, Tensor& out) {
  const int64_t K = out.numel();
  if (K == 0) return;
  const int64_t per_part = (R + 255) / 256 < 16 ? 16 : (R + 255) / 256;  // rows; P <= 256
  const int64_t P = R == 0 ? 1 : (R + per_part - 1) / per_part;
  Tensor partial = zeros({P, K}, DType::F64, Device::CUDA);  // (P, K)
  const double divisor = op == ReduceOp::Mean ? static_cast<double>(R) : 1.0;
  dispatch_float(x.dtype(), "reduce", [&](auto tag) {
    using T = decltype(tag);
    if (R > 0) {
      const dim3 grid(static_cast<unsigned>((K + kThreads - 1) / kThreads),
                      static_cast<unsigned>(P));
      column_partial_kernel<<<grid, kThreads>>>(x.device_data<T>(), R, K, per_part,
                                                partial.device_data<double>());
      CUDA_CHECK_LAUNCH();
    }
    column_finish_kernel<<<blocks_for(K), kThreads>>>(partial.device_data<double>(), P, K, divisor,
                                                      out.device_data<T>());
    CUDA_CHECK_LAUNCH();
  });
}

void reduce_rows(ReduceOp op, const Tensor& x, int64_t C, Tensor& out) {
  const int64_t R = out.numel();
  if (R == 0) return;
  dispatch_float(x.dtype(), "reduce", [&](auto tag) {
    using T = decltype(tag);
    reduce_rows_kernel<<<row_blocks(R), row_threads(C)>>>(op, x.device_data<T>(), R, C,
                                                          out.device_data<T>());
    CUDA_CHECK_LAUNCH();
  });
}

void argmax_rows(const Tensor& x, int64_t C, Tensor& out) {
  const int64_t R = out.numel();
  if (R == 0) return;
  dispatch_float(x.dtype(), "argmax", [&](auto tag) {
    using T = decltype(tag);
    argmax_rows_kernel<<<row_blocks(R), row_threads(C)>>>(x.device_data<T>(), R, C,
                                                          out.device_data<int64_t>());
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace tg::cuda
