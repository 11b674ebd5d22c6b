// optim.cpp — fused optimiser steps on tensors (used by nn::AdamW): checks, then the kernel in
// cpu/optim.cpp or cuda/optim.cu.
//
// AdamW, per element, in the parameter's dtype, following PyTorch 1.13's _single_tensor_adamw
// operation by operation (see ops.h); the per-step scalars are computed once in double.
#include <cmath>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "tensor/check.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

namespace tg {

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
  } else {
    cpu::adamw_step(param, grad, m, v, s);
  }
}

}  // namespace tg
