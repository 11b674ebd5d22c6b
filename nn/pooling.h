// pooling.h — attentive pooling with learned queries: TGMM's readout (docs/tgmm.md, "The model").
//
// Dimension letters: B = batch, N = positions (tokens) per sequence, D = input width,
// Q = number of learned queries (K_max in TGMM), O = output width (K_max + d in TGMM).
//
// Parameters: queries (Q, O) ~ N(0, 1); k_proj.weight (O, D) and v_proj.weight (O, D), bias-free,
// ~ U(-1/sqrt(D), 1/sqrt(D)) (PyTorch's Linear default). Drawn in that order from one Generator.
//
// For sequence b and query j:
//   k_n = W_k h_n,  v_n = W_v h_n                          (O each)
//   s_{n,j} = k_n . q_j                                    (no 1/sqrt scaling)
//   a_{n,j} = softmax over the valid positions n of s_{n,j}
//   o_j = sum_n a_{n,j} v_n                                -> out[b, j] (O)
// mask (B, N), any dtype: nonzero = valid, 0 = padding; padding positions get weight 0 (their
// score is -inf), so they never influence the output. A sequence with no valid position at all
// pools to o_j = 0 (never NaN).
#pragma once
#include <cstdint>
#include <memory>

#include "nn/linear.h"
#include "nn/module.h"

namespace tg::nn {

class AttentivePooling : public Module {
 public:
  AttentivePooling(int64_t in_dim, int64_t n_queries, int64_t out_dim, Generator& gen,
                   DType dtype = DType::F32);

  // h (B, N, D), mask (B, N) or undefined (all valid) -> (B, Q, O).
  ag::Variable forward(const ag::Variable& h, const Tensor& mask = Tensor()) const;

  const ag::Variable& queries() const { return queries_; }  // (Q, O)
  const Linear& k_proj() const { return *k_proj_; }
  const Linear& v_proj() const { return *v_proj_; }

 private:
  int64_t in_dim_;
  ag::Variable queries_;
  std::shared_ptr<Linear> k_proj_, v_proj_;
};

}  // namespace tg::nn
