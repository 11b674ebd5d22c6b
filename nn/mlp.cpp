// mlp.cpp — MLP (see mlp.h).
#include "nn/mlp.h"

#include <stdexcept>
#include <string>

#include "autograd/ops.h"

namespace tg::nn {

MLP::MLP(int64_t n_embd, Generator& gen, MLPOptions options) : options_(options) {
  if (n_embd <= 0) {
    throw std::invalid_argument("MLP: n_embd must be positive, got " + std::to_string(n_embd));
  }
  if (options_.hidden == 0) options_.hidden = 4 * n_embd;
  c_fc_ = register_module(
      "c_fc", std::make_shared<Linear>(n_embd, options_.hidden, gen,
                                       LinearOptions::normal(options.init_std, options.dtype)));
  c_proj_ = register_module(
      "c_proj", std::make_shared<Linear>(options_.hidden, n_embd, gen,
                                         LinearOptions::normal(options.proj_std, options.dtype)));
}

ag::Variable MLP::forward(const ag::Variable& x, const ag::Variable& residual) const {
  if (x.dim() < 1 || x.size(-1) != c_fc_->in_features()) {
    throw std::invalid_argument("MLP: expected last dim " + std::to_string(c_fc_->in_features()) +
                                ", got " + shape_str(x.shape()));
  }
  const ag::Variable hidden = c_fc_->forward(x);  // (..., F)
  const ag::Variable active =
      options_.activation == Activation::Gelu ? ag::gelu(hidden) : ag::relu(hidden);
  return c_proj_->forward(active, residual);  // (..., D)
}

}  // namespace tg::nn
