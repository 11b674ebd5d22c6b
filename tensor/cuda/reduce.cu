// reduce.cu — reductions of the rows of a contiguous (R, C) tensor: sum, mean, max, min,
// logsumexp, argmax.
//
// The caller (reduce.cpp) has permuted the reduced dims last and made x contiguous, so every
// reduction is "one output per row". One block per row: each thread folds a strided part of the
// row, then the block combines the threads' partial results in a fixed tree (the same answer on
// every run). Accumulation is in double, as on the CPU. The semantics are the CPU's:
//   max / min: NaN wins;  logsumexp: the row max is subtracted first, exp is taken in T, a
//   non-finite max (+inf, NaN, or -inf for an all -inf or empty row) is the result itself;
//   mean of nothing is NaN; argmax: the first maximum, a NaN counting as the maximum.
#include <cmath>
#include <cstdint>

#include "tensor/cuda/launch.cuh"
#include "tensor/cuda/math.cuh"
#include "tensor/cuda/ops.h"

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
__global__ void reduce_rows_kernel(Reduction op, const T* x, int64_t R, int64_t C, T* out) {
  __shared__ double shared[32];
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    const T* row = x + r * C;  // (C)
    double result = 0.0;
    if (op == Reduction::Sum || op == Reduction::Mean) {
      double a = 0.0;
      for (int64_t i = threadIdx.x; i < C; i += blockDim.x) a += static_cast<double>(row[i]);
      a = block_sum(a, shared);
      result = op == Reduction::Mean ? a / static_cast<double>(C) : a;
    } else if (op == Reduction::Max) {
      result = fold_row(row, C, -INFINITY, MaxNan{}, shared);
    } else if (op == Reduction::Min) {
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

}  // namespace

void reduce_rows(Reduction op, const Tensor& x, int64_t C, Tensor& out) {
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
