// ops_matmul.cpp — differentiable matrix product.
//
// Notation: a (..., M, K), b (..., K, N), y = a @ b (..., M, N), g = dL/dy (y's shape). The batch
// dims "..." broadcast as in tg::matmul. A 1-D a (K) is a row vector (1, K) and a 1-D b (K) a
// column vector (K, 1); that unit dim is dropped from y (as NumPy and PyTorch do).
//
// The backward rule works on the 2-D-or-more forms only: 1-D operands are unsqueezed so that the
// two formulas below apply unchanged, and the unit dims are squeezed back off the gradients.
// Transposes are views (.transpose(-1, -2) swaps strides), which tg::matmul hands to BLAS as
// transpose flags, so no operand is copied. A gradient that comes out with broadcast batch dims
// (..., M, K) for an a of shape (M, K) is summed back to a's shape by the engine.
#include "autograd/ops.h"

namespace tg::ag {

using Grads = std::vector<Tensor>;
using Needs = std::vector<bool>;

namespace {
// (..., M, K) -> (..., K, M): a view with the last two strides swapped, no copy.
Tensor matrix_transpose(const Tensor& t) { return t.transpose(-1, -2); }
}  // namespace

// ---- matmul: y = a @ b
Variable matmul(const Variable& a, const Variable& b) {
  const Tensor av = a.value(), bv = b.value();
  Tensor y = tg::matmul(av, bv);  // checks ranks and inner dimensions
  return make_op("matmul", std::move(y), {a, b},
                 [av, bv](const Tensor& g, const Needs& needs) -> Grads {
                   // The 2-D-or-more forms: a2 (..., M, K), b2 (..., K, N), g2 (..., M, N).
                   const bool a_vector = av.dim() == 1, b_vector = bv.dim() == 1;
                   const Tensor a2 = a_vector ? av.unsqueeze(0) : av;   // (K) -> (1, K)
                   const Tensor b2 = b_vector ? bv.unsqueeze(-1) : bv;  // (K) -> (K, 1)
                   Tensor g2 = g;
                   if (a_vector) g2 = g2.unsqueeze(b_vector ? 0 : -2);  // restore M = 1
                   if (b_vector) g2 = g2.unsqueeze(-1);                 // restore N = 1

                   Tensor da, db;
                   if (needs[0]) {
                     da = tg::matmul(g2, matrix_transpose(b2));  // dL/da = g @ b^T  (..., M, K)
                     if (a_vector) da = da.squeeze(-2);          // (..., K); engine sums "..."
                   }
                   if (needs[1]) {
                     if (b2.dim() == 2 && a2.dim() > 2) {
                       // b (K, N) shared by every batch: fold the batch into the rows, so one
                       // (K, B*M) @ (B*M, N) GEMM does the sum over the batch too.
                       const int64_t K = a2.size(-1), N = g2.size(-1);
                       db = tg::matmul(matrix_transpose(a2.reshape({-1, K})), g2.reshape({-1, N}));
                     } else {
                       db = tg::matmul(matrix_transpose(a2), g2);  // dL/db = a^T @ g (..., K, N)
                     }
                     if (b_vector) db = db.squeeze(-1);  // (..., K); engine sums "..."
                   }
                   return {da, db};
                 });
}

// ---- linear: y = x W^T + b (+ r), x (..., K), W (O, K), b (O) or undefined, r (..., O) or
//      undefined; g = dL/dy (..., O)
//   dx = g W (..., K);  dW = g2^T x2 (O, K) with the batch dims folded into rows (one GEMM);
//   db = the sum of g2 over rows;  dr = g.  (x2, g2: x and g as (M, K) and (M, O) matrices;
//   tg::linear_backward, which spreads the GEMMs over the threads by rows.)
Variable linear(const Variable& x, const Variable& weight, const Variable& bias,
                const Variable& residual) {
  const Tensor xv = x.value(), wv = weight.value();
  const Tensor bv = bias.defined() ? bias.value() : Tensor();
  Tensor y = tg::linear(xv, wv, bv, residual.defined() ? residual.value() : Tensor());
  std::vector<Variable> inputs = {x, weight};
  if (bias.defined()) inputs.push_back(bias);
  if (residual.defined()) inputs.push_back(residual);
  const bool has_bias = bias.defined(), has_residual = residual.defined();
  return make_op("linear", std::move(y), inputs,
                 [xv, wv, has_bias, has_residual](const Tensor& g, const Needs& needs) -> Grads {
                   const bool need_bias = has_bias && needs[2];
                   LinearGrads d = tg::linear_backward(g, xv, wv, needs[0], needs[1], need_bias);
                   Grads grads = {d.dx, d.dweight};
                   if (has_bias) grads.push_back(d.dbias);
                   if (has_residual) grads.push_back(g);
                   return grads;
                 });
}

}  // namespace tg::ag
