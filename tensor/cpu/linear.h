// cpu/linear.h — y = x W^T + b as one GEMM: the bias is written into y first and the GEMM adds
// the product to it (beta = 1), so the bias add is not a separate pass over y.
#pragma once
#include "tensor/tensor.h"

namespace tg::cpu {

// x (M, K) contiguous, w (O, K) contiguous, b (O) contiguous or undefined; y (M, O) allocated.
void linear(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y);

}  // namespace tg::cpu
