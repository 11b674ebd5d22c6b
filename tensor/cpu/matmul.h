// cpu/matmul.h — the CPU side of tg::matmul: batched GEMM on OpenBLAS.
//
// Dimension letters: M, K, N as in (M, K) @ (K, N) -> (M, N); B... are the batch dims of the
// result. The caller (matmul.cpp) has checked shapes and turned 1-D operands into matrices.
#pragma once
#include "tensor/tensor.h"

namespace tg::cpu {

// out (B..., M, N) = a (..., M, K) @ b (..., K, N), where the batch dims of a and b broadcast to
// out's (B...) (missing or size-1 dims repeat the same matrix). a and b may have any strides; out
// is freshly allocated and contiguous.
void matmul(const Tensor& a, const Tensor& b, Tensor& out);

}  // namespace tg::cpu
