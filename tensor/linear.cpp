// linear.cpp — y = x W^T + b (+ residual): checks, and dispatch to one fused GEMM on the CPU
// (cpu/linear.cpp) or to matmul + adds on other devices.
#include <stdexcept>
#include <string>

#include "tensor/check.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

namespace tg {

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& residual) {
  check_same(x, w, "linear");
  check_floating(x, "linear");
  if (b.defined()) check_same(x, b, "linear");
  if (residual.defined()) check_same(x, residual, "linear");
  Shape out_shape = x.shape();
  if (x.dim() >= 1 && w.dim() == 2) out_shape.back() = w.size(0);
  if (x.dim() < 1 || w.dim() != 2 || x.size(-1) != w.size(1) ||
      (b.defined() && b.shape() != Shape{w.size(0)}) ||
      (residual.defined() && residual.shape() != out_shape)) {
    throw std::invalid_argument(
        std::string("linear: expected x (..., K), weight (O, K), bias (O)") +
        (residual.defined() ? ", residual (..., O)" : "") + "; got x " + shape_str(x.shape()) +
        ", weight " + shape_str(w.shape()) + (b.defined() ? ", bias " + shape_str(b.shape()) : "") +
        (residual.defined() ? ", residual " + shape_str(residual.shape()) : ""));
  }
  if (x.device() != Device::CPU) {
    Tensor y = matmul(x, w.transpose(0, 1));
    if (b.defined()) y = y + b;
    return residual.defined() ? residual + y : y;
  }
  const int64_t K = x.size(-1), O = w.size(0);
  const Tensor x2 = x.contiguous().reshape({-1, K});  // (M, K)
  Tensor y = empty({x2.size(0), O}, x.dtype());
  const Tensor r2 = residual.defined() ? residual.contiguous().reshape({-1, O}) : Tensor();
  cpu::linear(x2, w.contiguous(), b.defined() ? b.contiguous() : b, r2, y);
  return y.reshape(out_shape);
}

LinearGrads linear_backward(const Tensor& grad_y, const Tensor& x, const Tensor& w, bool need_x,
                            bool need_weight, bool need_bias) {
  check_same(grad_y, x, "linear_backward");
  check_same(grad_y, w, "linear_backward");
  const int64_t K = x.size(-1), O = w.size(0);
  Shape g_shape = x.shape();
  g_shape.back() = O;
  if (grad_y.shape() != g_shape || w.dim() != 2 || w.size(1) != K) {
    throw std::invalid_argument("linear_backward: expected grad_y " + shape_str(g_shape) +
                                " for x " + shape_str(x.shape()) + " and weight " +
                                shape_str(w.shape()) + ", got " + shape_str(grad_y.shape()));
  }
  LinearGrads r;
  const Tensor g2 = grad_y.contiguous().reshape({-1, O});  // (M, O)
  const Tensor x2 = x.contiguous().reshape({-1, K});       // (M, K)
  if (x.device() != Device::CPU) {
    if (need_x) r.dx = matmul(grad_y, w);
    if (need_weight) r.dweight = matmul(g2.transpose(0, 1), x2);
    if (need_bias) r.dbias = sum(g2, {0});
    return r;
  }
  if (need_x) r.dx = empty(x2.shape(), x.dtype());
  if (need_weight) r.dweight = empty(w.shape(), w.dtype());
  if (need_bias) r.dbias = empty({O}, w.dtype());
  cpu::linear_backward(g2, x2, w.contiguous(), r.dx, r.dweight, r.dbias);
  if (need_x) r.dx = r.dx.reshape(x.shape());
  return r;
}

}  // namespace tg
