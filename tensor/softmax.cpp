// softmax.cpp — softmax and log_softmax along any dim, and their backward: checks, then the kernels
// in cpu/softmax.cpp (where the derivation is) or cuda/softmax.cu.
//
// The input may have any strides (a softmax over a dim that is not the last reads it in place);
// every result is a fresh contiguous tensor. A 0-d tensor is treated as one row of one element.
#include <stdexcept>
#include <string>

#include "tensor/check.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

namespace tg {

namespace {

Tensor softmax_forward(const Tensor& x, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  check_floating(x, op);
  if (x.dim() == 0) return softmax_forward(x.view({1}), dim, log).view({});
  dim = normalize_dim(dim, x.dim(), op);
  Tensor y(x.shape(), x.dtype(), x.device());
  if (x.device() == Device::CUDA) {
    cuda::softmax(x, dim, log, y);
  } else {
    cpu::softmax(x, dim, log, y);
  }
  return y;
}

Tensor softmax_backward_any(const Tensor& grad_y, const Tensor& y, int64_t dim, bool log) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  check_same(grad_y, y, op);
  check_floating(y, op);
  if (grad_y.shape() != y.shape()) {
    throw std::invalid_argument(std::string(op) + ": gradient " + shape_str(grad_y.shape()) +
                                " does not match output " + shape_str(y.shape()));
  }
  if (y.dim() == 0) {
    return softmax_backward_any(grad_y.view({1}), y.view({1}), dim, log).view({});
  }
  dim = normalize_dim(dim, y.dim(), op);
  Tensor grad_x(y.shape(), y.dtype(), y.device());
  if (y.device() == Device::CUDA) {
    cuda::softmax_backward(grad_y, y, dim, log, grad_x);
  } else {
    cpu::softmax_backward(grad_y, y, dim, log, grad_x);
  }
  return grad_x;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_forward(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_forward(x, dim, true); }

Tensor softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim) {
  return softmax_backward_any(grad_y, y, dim, false);
}
Tensor log_softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim) {
  return softmax_backward_any(grad_y, y, dim, true);
}

}  // namespace tg
