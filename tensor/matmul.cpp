// matmul.cpp — tg::matmul: argument checks, 1-D operands, batch broadcasting; then cpu/matmul.
//
// Shapes, as in NumPy / PyTorch:
//   (M, K) @ (K, N)             -> (M, N)
//   (..., M, K) @ (..., K, N)   -> (B..., M, N)   batch dims broadcast (B... = their broadcast)
//   (K) @ (..., K, N)           -> (..., N)       a 1-D left operand is a row vector (1, K) ...
//   (..., M, K) @ (K)           -> (..., M)       ... a 1-D right operand a column (K, 1),
// and the dim added for a 1-D operand is dropped from the result.
// Kernels: cpu/matmul.cpp (OpenBLAS) and cuda/matmul.cu (cuBLAS), one branch on the device.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "tensor/check.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

namespace tg {

namespace {
// The broadcast of the batch dims (all but the last two) of a (..., M, K) and b (..., K, N), or
// an error naming both operands.
Shape batch_shape(const Tensor& a, const Tensor& b, const Shape& a_shape, const Shape& b_shape) {
  const Shape batch_a(a.shape().begin(), a.shape().end() - 2);
  const Shape batch_b(b.shape().begin(), b.shape().end() - 2);
  const size_t rank = std::max(batch_a.size(), batch_b.size());
  Shape batch(rank, 1);
  for (size_t i = 0; i < rank; ++i) {  // i counts from the right
    const int64_t da = i < batch_a.size() ? batch_a[batch_a.size() - 1 - i] : 1;
    const int64_t db = i < batch_b.size() ? batch_b[batch_b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) {
      throw std::invalid_argument("matmul: batch dimensions cannot be broadcast: " +
                                  shape_str(a_shape) + " @ " + shape_str(b_shape));
    }
    batch[rank - 1 - i] = da == 1 ? db : da;
  }
  return batch;
}
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_same(a, b, "matmul");
  check_floating(a, "matmul");
  if (a.dim() == 0 || b.dim() == 0) {
    throw std::invalid_argument("matmul: operands need at least one dim, got " +
                                shape_str(a.shape()) + " @ " + shape_str(b.shape()));
  }
  // A 1-D operand becomes a matrix: (K) -> (1, K) on the left, (K) -> (K, 1) on the right.
  const Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;  // (..., M, K)
  const Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;  // (..., K, N)
  if (a2.size(-1) != b2.size(-2)) {
    throw std::invalid_argument("matmul: inner dimensions differ: " + shape_str(a.shape()) + " @ " +
                                shape_str(b.shape()));
  }
  const int64_t M = a2.size(-2), N = b2.size(-1);
  Shape out_shape = batch_shape(a2, b2, a.shape(), b.shape());
  Shape result_shape = out_shape;  // without the dims added for 1-D operands
  out_shape.push_back(M);
  out_shape.push_back(N);
  if (a.dim() != 1) result_shape.push_back(M);
  if (b.dim() != 1) result_shape.push_back(N);

  switch (a.device()) {
    case Device::CPU: {
      Tensor out(out_shape, a.dtype(), a.device());  // (B..., M, N)
      cpu::matmul(a2, b2, out);
      return out.view(result_shape);
    }
    case Device::CUDA: {
      Tensor out(out_shape, a.dtype(), a.device());  // (B..., M, N)
      cuda::matmul(a2, b2, out);
      return out.view(result_shape);
    }
  }
  return Tensor();
}

}  // namespace tg
