// layer_norm.h — LayerNorm over the last dim: y = (x - mean) / sqrt(var + eps) * weight + bias.
//
// Dimension letters: C = the normalised dim (the last one); "..." = any leading dims.
// weight starts at 1 and bias at 0 (PyTorch's nn.LayerNorm); var is the biased variance.
// The work is one fused autograd op (ag::layer_norm) that saves only mean and rstd per row.
#pragma once
#include <cstdint>

#include "nn/module.h"

namespace tg::nn {

struct LayerNormOptions {
  double eps = 1e-5;
  DType dtype = DType::F32;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, LayerNormOptions options = {});

  // (..., C) -> (..., C). Throws "LayerNorm: expected last dim C, got (...)".
  ag::Variable forward(const ag::Variable& x) const;

  const ag::Variable& weight() const { return weight_; }  // (C)
  const ag::Variable& bias() const { return bias_; }      // (C)
  int64_t dim() const { return dim_; }
  double eps() const { return eps_; }

 private:
  int64_t dim_;
  double eps_;
  ag::Variable weight_, bias_;
};

}  // namespace tg::nn
