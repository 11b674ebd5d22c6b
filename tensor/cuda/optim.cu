// optim.cu — the fused AdamW step on the GPU: one pass over p, g, m, v, no temporaries.
//
// The per-element arithmetic is the CPU's (tensor/optim.cpp) line for line, in the parameter's
// dtype, which is PyTorch 1.13's _single_tensor_adamw operation by operation.
#include <cstdint>

#include "tensor/cuda/launch.cuh"
#include "tensor/cuda/math.cuh"
#include "tensor/cuda/ops.h"

namespace tg::cuda {

namespace {

template <class T>
__global__ void adamw_kernel(T* p, const T* g, T* m, T* v, int64_t n, T decay, T b1, T b2,
                             T one_minus_b1, T one_minus_b2, T bias2_sqrt, T eps, T neg_step) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const T gi = g[i];
    const T pi = p[i] * decay;                        // param.mul_(1 - lr * wd)
    const T mi = m[i] * b1 + one_minus_b1 * gi;       // exp_avg.mul_(b1).add_(g, 1 - b1)
    const T vi = v[i] * b2 + one_minus_b2 * gi * gi;  // exp_avg_sq.mul_(b2).addcmul_(g, g)
    const T denom = sqrt_of(vi) / bias2_sqrt + eps;   // (v.sqrt() / bc2_sqrt).add_(eps)
    p[i] = pi + neg_step * mi / denom;                // param.addcdiv_(m, denom, -step)
    m[i] = mi;
    v[i] = vi;
  }
}

}  // namespace

void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWScalars& s) {
  const int64_t n = param.numel();
  if (n == 0) return;
  dispatch_float(param.dtype(), "adamw_step_", [&](auto tag) {
    using T = decltype(tag);
    adamw_kernel<<<blocks_for(n), kThreads>>>(
        param.device_data<T>(), grad.device_data<T>(), m.device_data<T>(), v.device_data<T>(), n,
        T(s.decay), T(s.beta1), T(s.beta2), T(1.0 - s.beta1), T(1.0 - s.beta2), T(s.bias2_sqrt),
        T(s.eps), T(s.neg_step_size));
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace tg::cuda
