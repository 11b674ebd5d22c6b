// cpu/nn_kernels.h — CPU kernels for softmax / log_softmax and layer norm, forward and backward.
//
// Dimension letters: R = rows (every dim but the normalised one, flattened), C = the normalised
// dim. The callers in nn_kernels.cpp have checked shapes, dtypes and devices and allocated the
// (contiguous) outputs.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace tg::cpu {

// y = softmax(x) along dim (log_softmax when `log`). x may have any strides; y is contiguous.
void softmax(const Tensor& x, int64_t dim, bool log, Tensor& y);
// grad_x from grad_y and the forward output y (same shapes, any strides); grad_x is contiguous.
void softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim, bool log, Tensor& grad_x);

// Layer norm over the last dim. x (R, C) contiguous (any leading shape), weight and bias (C)
// contiguous or undefined; writes y (R, C), mean (R), rstd (R).
void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor& y,
                Tensor& mean, Tensor& rstd);
// dx (R, C) and, when weight is defined, dweight (C) and dbias (C); all inputs contiguous.
void layer_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                         const Tensor& mean, const Tensor& rstd, Tensor& dx, Tensor& dweight,
                         Tensor& dbias);

}  // namespace tg::cpu
