// gemm_plan.h — how a row-major batched matmul becomes one column-major strided-batched GEMM
// call (cuBLAS's cublas<S|D>gemmStridedBatched). Plain C++, so the CPU tests can check the plan
// against a reference GEMM without a GPU (tests/cuda/test_cuda_plan.cpp).
//
// Dimension letters: M, K, N as in (M, K) @ (K, N) -> (M, N); B = the number of matrices in the
// result (the product of its batch dims).
//
// Operand swap: a row-major (M, N) matrix read as column-major is its transpose, so C = A @ B is
// computed as C^T = B^T @ A^T: the GEMM gets (b, a) in that order with sizes (N, M, K) and
// writes C^T column-major, which is C row-major with ldc = N.
// How an operand is read, from its last two strides (as in cpu/matmul.cpp):
//   strides (ld, 1), ld >= cols:  an ordinary row-major matrix          -> no transpose, ld
//   strides (1, ld), ld >= rows:  a transposed view (x.transpose(-1,-2)) -> transpose, ld
//   anything else:                copied to contiguous first.
// Batch dims: when they walk memory as one stride per operand (0 for a broadcast operand), one
// call does the whole batch; otherwise that operand is first expanded to the full batch and made
// contiguous. A batch against one shared b folds into M when a's rows allow (one larger GEMM).
#pragma once
#include <climits>
#include <cstdint>

#include "tensor/tensor.h"

namespace tg::cuda {

struct GemmOperand {
  Tensor t;                  // the tensor read (the input, or a contiguous copy of it)
  bool transposed = false;   // read as its transpose (CUBLAS_OP_T)
  int64_t ld = 0;            // leading dimension
  int64_t batch_stride = 0;  // elements between consecutive matrices (0: the same matrix)
};

struct GemmPlan {
  int64_t M = 0, N = 0, K = 0, B = 0;
  GemmOperand a, b;
};

namespace gemm_detail {

// The stride between consecutive matrices of t when its batch dims, broadcast to `batch`, walk
// memory as one dim (0 when t is the same matrix for every batch entry); -1 if they do not.
inline int64_t batch_stride(const Tensor& t, const Shape& batch) {
  const int64_t lead = static_cast<int64_t>(batch.size()) - (t.dim() - 2);
  int64_t stride = 0, count = 1;
  bool first = true;
  for (int64_t d = static_cast<int64_t>(batch.size()); d-- > 0;) {
    if (batch[d] == 1) continue;
    const int64_t td = d - lead;  // the matching dim of t, if any
    const int64_t s = td >= 0 && t.size(td) != 1 ? t.stride(td) : 0;
    if (first) {
      stride = s;
      first = false;
    } else if (s != stride * count) {
      return -1;
    }
    count *= batch[d];
  }
  return stride;
}

// How the GEMM reads t (..., rows, cols), copying t when it cannot be read in place.
inline GemmOperand operand(Tensor t, const Shape& batch) {
  if (batch_stride(t, batch) < 0) {  // batch dims do not collapse: materialise the full batch
    Shape full = batch;
    full.push_back(t.size(-2));
    full.push_back(t.size(-1));
    t = t.expand(full).contiguous();
  }
  const int64_t rows = t.size(-2), cols = t.size(-1), rs = t.stride(-2), cs = t.stride(-1);
  GemmOperand op;
  if ((cs == 1 || cols == 1) && (rows == 1 || rs >= cols)) {
    op = {t, false, rows == 1 ? cols : rs, 0};
  } else if ((rs == 1 || rows == 1) && (cols == 1 || cs >= rows)) {
    op = {t, true, cols == 1 ? rows : cs, 0};
  } else {
    t = t.contiguous();  // a contiguous copy's batch dims still collapse
    op = {t, false, cols, 0};
  }
  op.batch_stride = batch_stride(op.t, batch);
  return op;
}

}  // namespace gemm_detail

// The plan for out (B..., M, N) = a (..., M, K) @ b (..., K, N), with K >= 1 and out non-empty.
inline GemmPlan plan_gemm(const Tensor& a, const Tensor& b, const Tensor& out) {
  GemmPlan p;
  p.M = out.size(-2);
  p.N = out.size(-1);
  p.K = a.size(-1);
  const Shape batch(out.shape().begin(), out.shape().end() - 2);  // (B...)
  p.B = shape_numel(batch);
  p.a = gemm_detail::operand(a, batch);
  p.b = gemm_detail::operand(b, batch);
  // One b for every batch entry (a Linear layer on (B, T, K)) and a's matrices following each
  // other at its row stride: the batch folds into M, one (B*M, K) @ (K, N) GEMM instead of B small
  // ones. The output's B matrices are contiguous, so its rows follow each other as well.
  // (Only while B * M still fits cuBLAS's int; otherwise the strided-batched call is used.)
  if (p.B > 1 && p.b.batch_stride == 0 && !p.a.transposed && p.a.batch_stride == p.M * p.a.ld &&
      p.M * p.B <= INT_MAX) {
    p.M *= p.B;
    p.B = 1;
    p.a.batch_stride = 0;
  }
  return p;
}

}  // namespace tg::cuda
