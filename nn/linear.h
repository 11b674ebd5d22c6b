// linear.h — the affine map y = x W^T + b, with W stored (out, in) as in PyTorch.
//
// Dimension letters: I = in_features, O = out_features; "..." = any leading (batch) dims.
//
// forward is the fused op ag::linear: the leading dims fold into rows, and on the CPU one GEMM
// (tensor/cpu/packed_gemm.h) adds the bias, and the residual when one is given (a transformer's
// skip connection, y = residual + x W^T + b), as it stores each tile of the output: neither is
// a separate pass over it (tensor/cpu/linear.cpp).
//
// Initialisation, from a tg::Generator (so the same seed gives the same weights):
//   - LinearInit::Uniform (PyTorch's default): weight and bias ~ U(-1/sqrt(I), 1/sqrt(I));
//   - LinearInit::Normal (GPT-2): weight ~ N(0, std^2), bias = 0.
// The weight is drawn first, then the bias.
#pragma once
#include <cstdint>

#include "nn/module.h"
#include "tensor/random.h"

namespace tg::nn {

enum class LinearInit { Uniform, Normal };

struct LinearOptions {
  bool bias = true;
  LinearInit init = LinearInit::Uniform;
  double std = 0.02;  // for LinearInit::Normal
  DType dtype = DType::F32;

  static LinearOptions normal(double std, DType dtype = DType::F32, bool bias = true) {
    return {bias, LinearInit::Normal, std, dtype};
  }
  static LinearOptions uniform(DType dtype = DType::F32, bool bias = true) {
    return {bias, LinearInit::Uniform, 0.0, dtype};
  }
};

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& gen, LinearOptions options = {});

  // (..., I) -> (..., O); with a residual (..., O), residual + (x W^T + b). Throws "Linear:
  // expected last dim I, got (...)" on a wrong shape.
  ag::Variable forward(const ag::Variable& x, const ag::Variable& residual = {}) const;

  const ag::Variable& weight() const { return weight_; }  // (O, I)
  const ag::Variable& bias() const { return bias_; }      // (O), undefined when bias = false
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

 private:
  int64_t in_, out_;
  ag::Variable weight_, bias_;
};

}  // namespace tg::nn
