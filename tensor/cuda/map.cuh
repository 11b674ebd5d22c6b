// map.cuh — out[i] = f(x[i]) and out[i] = f(a[i], b[i]) on the GPU: the shape of every elementwise
// kernel (cuda/elementwise.cu, cuda/gelu.cu).
//
// A grid-stride loop over the output's elements by linear index, each operand addressed through
// Strided<N> (any strides, 0 on broadcast dims). `f` is a small functor copied to the kernel.
#pragma once
#include <cstdint>

#include "tensor/cuda/launch.cuh"
#include "tensor/tensor.h"

namespace tg::cuda {

template <class Out, class In, class F>
__global__ void map1_kernel(Strided<2> s, int64_t n, Out* out, const In* in, F f) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t off[2];
    s.offsets(i, off);
    out[off[0]] = f(in[off[1]]);
  }
}

template <class T, class F>
__global__ void map2_kernel(Strided<3> s, int64_t n, T* out, const T* a, const T* b, F f) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t off[3];
    s.offsets(i, off);
    out[off[0]] = f(a[off[1]], b[off[2]]);
  }
}

// out = f(x): x expanded to out's shape, any strides; x of dtype In, out of dtype Out.
template <class Out, class In, class F>
void map1(const Tensor& x, Tensor& out, F f) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const Strided<2> s = make_strided<2>(out.shape(), {out.strides(), x.strides()});
  map1_kernel<<<blocks_for(n), kThreads>>>(s, n, static_cast<Out*>(out.raw_device_data()),
                                           static_cast<const In*>(x.raw_device_data()), f);
  CUDA_CHECK_LAUNCH();
}

// out = f(a, b): a and b expanded to out's shape, any strides, all of dtype T.
template <class T, class F>
void map2(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const Strided<3> s = make_strided<3>(out.shape(), {out.strides(), a.strides(), b.strides()});
  map2_kernel<<<blocks_for(n), kThreads>>>(s, n, out.device_data<T>(), a.device_data<T>(),
                                           b.device_data<T>(), f);
  CUDA_CHECK_LAUNCH();
}

}  // namespace tg::cuda
