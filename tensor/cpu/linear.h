// cpu/linear.h — nn.Linear's three GEMMs, y = x W^T + b and its backward, spread over the cores
// by us rather than by BLAS.
//
// The bias is written into y first and the GEMM adds the product (beta = 1), so the bias add is
// not a separate pass. Threads: at TGMM's sizes (M = B*T rows of 4096..32768, K and O of 64..512)
// OpenBLAS's own threading gains nothing or loses (measured on 2 cores: (4096,64)@(64,192) ran at
// 100 GFLOP/s on one thread and 70 on two; dW = g^T x, whose output is only O x K, at 98 and 78).
// So with T > 1 threads each thread runs a single-threaded GEMM on its block of rows of x (forward,
// dx), or on its block of the rows summed over (dW: a split-K GEMM whose T partial products are
// then added, in a fixed order, so a run is reproducible at a given thread count).
#pragma once
#include "tensor/tensor.h"

namespace tg::cpu {

// x (M, K) contiguous, w (O, K) contiguous, b (O) contiguous or undefined; y (M, O) allocated.
void linear(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y);

// From g (M, O), x (M, K), w (O, K), all contiguous: dx (M, K) = g w, dw (O, K) = g^T x, and
// db (O) = the column sums of g. Each output is computed only if it is defined (allocated).
void linear_backward(const Tensor& g, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw,
                     Tensor& db);

}  // namespace tg::cpu
