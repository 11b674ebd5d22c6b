// cpu/optim.cpp — the fused AdamW step on the CPU: one pass over p, g, m, v, no temporaries.
//
// The per-element update is AdamWUpdate (tensor/scalar_ops.h), shared with the GPU (cuda/optim.cu):
// PyTorch 1.13's _single_tensor_adamw operation by operation, in the parameter's dtype.
#include "tensor/cpu/parallel.h"
#include "tensor/kernels.h"
#include "tensor/scalar_ops.h"

namespace tg::cpu {

void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWScalars& s) {
  const int64_t n = param.numel();
  dispatch_float(param.dtype(), "adamw_step_", [&](auto tag) {
    using T = decltype(tag);
    const AdamWUpdate<T> update(s);
    T* pp = param.data<T>();
    const T* pg = grad.data<T>();
    T* pm = m.data<T>();
    T* pv = v.data<T>();
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
    for (int64_t i = 0; i < n; ++i) update(pp[i], pg[i], pm[i], pv[i]);
  });
}

}  // namespace tg::cpu
