// linear.cpp — y = x W^T + b: checks, and dispatch to one fused GEMM on the CPU (cpu/linear.cpp)
// or to matmul + add on other devices.
#include <stdexcept>
#include <string>

#include "tensor/check.h"
#include "tensor/cpu/linear.h"
#include "tensor/ops.h"

namespace tg {

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  check_same(x, w, "linear");
  check_floating(x, "linear");
  if (b.defined()) check_same(x, b, "linear");
  if (x.dim() < 1 || w.dim() != 2 || x.size(-1) != w.size(1) ||
      (b.defined() && b.shape() != Shape{w.size(0)})) {
    throw std::invalid_argument("linear: expected x (..., K), weight (O, K), bias (O); got x " +
                                shape_str(x.shape()) + ", weight " + shape_str(w.shape()) +
                                (b.defined() ? ", bias " + shape_str(b.shape()) : ""));
  }
  if (x.device() != Device::CPU) {
    Tensor y = matmul(x, w.transpose(0, 1));
    return b.defined() ? y + b : y;
  }
  const int64_t K = x.size(-1), O = w.size(0);
  Shape out_shape = x.shape();
  out_shape.back() = O;
  const Tensor x2 = x.contiguous().reshape({-1, K});  // (M, K)
  Tensor y = empty({x2.size(0), O}, x.dtype());
  cpu::linear(x2, w.contiguous(), b.defined() ? b.contiguous() : b, y);
  return y.reshape(out_shape);
}

}  // namespace tg
