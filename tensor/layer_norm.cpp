// layer_norm.cpp — layer norm over the last dim, and its backward: checks, then the kernels in
// cpu/layer_norm.cpp (where the derivation is) or cuda/layer_norm.cu.
//
// The kernels read contiguous rows, so a non-contiguous input is copied first. Every result is a
// fresh contiguous tensor.
#include <stdexcept>
#include <string>

#include "tensor/check.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

namespace tg {

namespace {

// weight / bias of layer norm: undefined, or (C) with x's dtype and device.
void check_affine_param(const Tensor& p, const Tensor& x, const char* name, const char* op) {
  if (!p.defined()) return;
  check_same(x, p, op);
  if (p.shape() != Shape{x.size(-1)}) {
    throw std::invalid_argument(std::string(op) + ": " + name + " " + shape_str(p.shape()) +
                                " does not match the last dim of x " + shape_str(x.shape()));
  }
}

// x's shape without its last dim: the shape of mean and rstd.
Shape row_shape(const Tensor& x) { return Shape(x.shape().begin(), x.shape().end() - 1); }

}  // namespace

LayerNormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  check_floating(x, "layer_norm");
  if (x.dim() == 0) throw std::invalid_argument("layer_norm: x must have at least one dim, got ()");
  check_affine_param(weight, x, "weight", "layer_norm");
  check_affine_param(bias, x, "bias", "layer_norm");
  if (eps < 0) throw std::invalid_argument("layer_norm: eps must be >= 0");
  const Tensor xc = x.contiguous();  // (R, C)
  LayerNormResult out{Tensor(x.shape(), x.dtype(), x.device()),
                      Tensor(row_shape(x), x.dtype(), x.device()),
                      Tensor(row_shape(x), x.dtype(), x.device())};
  const Tensor w = weight.defined() ? weight.contiguous() : weight;  // (C) or undefined
  const Tensor b = bias.defined() ? bias.contiguous() : bias;        // (C) or undefined
  if (x.device() == Device::CUDA) {
    cuda::layer_norm(xc, w, b, eps, out.y, out.mean, out.rstd);
  } else {
    cpu::layer_norm(xc, w, b, eps, out.y, out.mean, out.rstd);
  }
  return out;
}

LayerNormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd) {
  const char* op = "layer_norm_backward";
  check_floating(x, op);
  check_same(x, grad_y, op);
  check_same(x, mean, op);
  check_same(x, rstd, op);
  if (x.dim() == 0)
    throw std::invalid_argument("layer_norm_backward: x must have at least one dim");
  check_affine_param(weight, x, "weight", op);
  if (grad_y.shape() != x.shape()) {
    throw std::invalid_argument(std::string(op) + ": gradient " + shape_str(grad_y.shape()) +
                                " does not match x " + shape_str(x.shape()));
  }
  for (const Tensor* t : {&mean, &rstd}) {
    if (t->shape() != row_shape(x)) {
      throw std::invalid_argument(std::string(op) + ": " + (t == &mean ? "mean " : "rstd ") +
                                  shape_str(t->shape()) + " does not match x " +
                                  shape_str(x.shape()) + " without its last dim");
    }
  }
  LayerNormGrads grads;
  grads.dx = Tensor(x.shape(), x.dtype(), x.device());
  if (weight.defined()) {
    grads.dweight = Tensor(weight.shape(), x.dtype(), x.device());
    grads.dbias = Tensor(weight.shape(), x.dtype(), x.device());
  }
  const Tensor w = weight.defined() ? weight.contiguous() : weight;
  if (x.device() == Device::CUDA) {
    cuda::layer_norm_backward(grad_y.contiguous(), x.contiguous(), w, mean.contiguous(),
                              rstd.contiguous(), grads.dx, grads.dweight, grads.dbias);
  } else {
    cpu::layer_norm_backward(grad_y.contiguous(), x.contiguous(), w, mean.contiguous(),
                             rstd.contiguous(), grads.dx, grads.dweight, grads.dbias);
  }
  return grads;
}

}  // namespace tg
