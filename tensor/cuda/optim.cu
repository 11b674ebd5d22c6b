// optim.cu — the fused AdamW step on the GPU: one pass over p, g, m, v, no temporaries.
//
// The per-element update is AdamWUpdate (tensor/scalar_ops.h), shared with the CPU (cpu/optim.cpp):
// PyTorch 1.13's _single_tensor_adamw operation by operation, in the parameter's dtype.
#include <cstdint>

#include "tensor/cuda/launch.cuh"
#include "tensor/kernels.h"
#include "tensor/scalar_ops.h"

namespace tg::cuda {

namespace {

template <class T>
__global__ void adamw_kernel(T* p, const T* g, T* m, T* v, int64_t n, AdamWUpdate<T> update) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    update(p[i], g[i], m[i], v[i]);
  }
}

}  // namespace

void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWScalars& s) {
  const int64_t n = param.numel();
  if (n == 0) return;
  dispatch_float(param.dtype(), "adamw_step_", [&](auto tag) {
    using T = decltype(tag);
    adamw_kernel<<<blocks_for(n), kThreads>>>(param.device_data<T>(), grad.device_data<T>(),
                                              m.device_data<T>(), v.device_data<T>(), n,
                                              AdamWUpdate<T>(s));
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace tg::cuda
