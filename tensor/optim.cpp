// optim.cpp — fused optimiser steps on tensors (used by nn::AdamW): checks, the CPU kernel, and
// the branch to the CUDA one (cuda/optim.cu).
//
// AdamW, per element, in the parameter's dtype, following PyTorch 1.13's _single_tensor_adamw
// operation by operation (see ops.h); the per-step scalars are computed once in double.
#include <cmath>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "tensor/check.h"
#include "tensor/cuda/ops.h"
#include "tensor/ops.h"

namespace tg {

namespace {

constexpr int64_t kParallelGrain = 32768;  // below this, one thread is faster

template <class T>
void adamw_cpu(T* p, const T* g, T* m, T* v, int64_t n, const AdamWScalars& s) {
  const T decay = T(s.decay), b1 = T(s.beta1), b2 = T(s.beta2);
  const T one_minus_b1 = T(1.0 - s.beta1), one_minus_b2 = T(1.0 - s.beta2);
  const T bias2_sqrt = T(s.bias2_sqrt), eps = T(s.eps), neg_step = T(s.neg_step_size);
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const T gi = g[i];
    const T pi = p[i] * decay;                         // param.mul_(1 - lr * wd)
    const T mi = m[i] * b1 + one_minus_b1 * gi;        // exp_avg.mul_(b1).add_(g, 1 - b1)
    const T vi = v[i] * b2 + one_minus_b2 * gi * gi;   // exp_avg_sq.mul_(b2).addcmul_(g, g)
    const T denom = std::sqrt(vi) / bias2_sqrt + eps;  // (v.sqrt() / bc2_sqrt).add_(eps)
    p[i] = pi + neg_step * mi / denom;                 // param.addcdiv_(m, denom, -step)
    m[i] = mi;
    v[i] = vi;
  }
}

}  // namespace

AdamWScalars adamw_scalars(double lr, double beta1, double beta2, double eps, double weight_decay,
                           int64_t step) {
  const double t = static_cast<double>(step);
  return AdamWScalars{
      1.0 - lr * weight_decay,         beta1, beta2, std::sqrt(1.0 - std::pow(beta2, t)), eps,
      -lr / (1.0 - std::pow(beta1, t))};
}

void adamw_step_(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWScalars& s) {
  const char* op = "adamw_step_";
  check_floating(param, op);
  for (const Tensor* t : std::initializer_list<const Tensor*>{&grad, &m, &v}) {
    check_same(param, *t, op);
    if (t->shape() != param.shape()) {
      throw std::invalid_argument(std::string(op) + ": " + t->describe() +
                                  " does not match the parameter " + param.describe());
    }
  }
  for (const Tensor* t : std::initializer_list<const Tensor*>{&param, &grad, &m, &v}) {
    if (!t->is_contiguous()) {
      throw std::invalid_argument(std::string(op) + ": every operand must be contiguous, got " +
                                  t->describe() + " with strides " + shape_str(t->strides()));
    }
  }
  if (param.device() == Device::CUDA) {
    cuda::adamw_step(param, grad, m, v, s);
    return;
  }
  dispatch_float(param.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    adamw_cpu<T>(param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>(), param.numel(), s);
  });
}

}  // namespace tg
