// gelu.cpp — GELU (tanh form) and its backward: checks, then the kernels in cpu/gelu.cpp (where the
// derivation is) or cuda/gelu.cu. Results are fresh contiguous tensors; inputs may be strided.
#include <stdexcept>
#include <string>

#include "tensor/check.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

namespace tg {

Tensor gelu(const Tensor& x) {
  check_floating(x, "gelu");
  Tensor y(x.shape(), x.dtype(), x.device());
  if (x.device() == Device::CUDA) {
    cuda::gelu(x, y);
  } else {
    cpu::gelu(x, y);
  }
  return y;
}

Tensor gelu_backward(const Tensor& grad, const Tensor& x) {
  check_same(grad, x, "gelu_backward");
  check_floating(x, "gelu_backward");
  if (grad.shape() != x.shape()) {
    throw std::invalid_argument("gelu_backward: gradient " + shape_str(grad.shape()) +
                                " does not match input " + shape_str(x.shape()));
  }
  Tensor grad_x(x.shape(), x.dtype(), x.device());
  if (x.device() == Device::CUDA) {
    cuda::gelu_backward(grad, x, grad_x);
  } else {
    cpu::gelu_backward(grad, x, grad_x);
  }
  return grad_x;
}

}  // namespace tg
