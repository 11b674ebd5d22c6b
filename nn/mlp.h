// mlp.h — the transformer's feed-forward layer: c_proj(act(c_fc(x))).
//
// Dimension letters: D = model width, F = hidden width (4D in GPT-2; docs/theory.md's constructions
// pick their own), "..." = any leading dims.
//
// Parameters (GPT-2 names): c_fc.weight (F, D), c_fc.bias (F), c_proj.weight (D, F),
// c_proj.bias (D). act = GELU in its tanh form (GPT-2) or ReLU (the constructions).
// Init: c_fc.weight ~ N(0, init_std^2), c_proj.weight ~ N(0, proj_std^2), biases 0.
#pragma once
#include <cstdint>
#include <memory>

#include "nn/linear.h"
#include "nn/module.h"

namespace tg::nn {

enum class Activation { Gelu, Relu };

struct MLPOptions {
  int64_t hidden = 0;  // F; 0 means 4 D
  Activation activation = Activation::Gelu;
  double init_std = 0.02;
  double proj_std = 0.02;  // GPT-2: 0.02 / sqrt(2 L)
  DType dtype = DType::F32;
};

class MLP : public Module {
 public:
  MLP(int64_t n_embd, Generator& gen, MLPOptions options = {});

  // (..., D) -> (..., D); with a residual (..., D), residual + mlp(x), added inside c_proj's GEMM.
  ag::Variable forward(const ag::Variable& x, const ag::Variable& residual = {}) const;

  const Linear& c_fc() const { return *c_fc_; }
  const Linear& c_proj() const { return *c_proj_; }
  const MLPOptions& options() const { return options_; }

 private:
  MLPOptions options_;
  std::shared_ptr<Linear> c_fc_, c_proj_;
};

}  // namespace tg::nn
