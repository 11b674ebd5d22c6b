// layer_norm.cpp — LayerNorm (see layer_norm.h).
#include "nn/layer_norm.h"

#include <stdexcept>
#include <string>

#include "autograd/ops.h"

namespace tg::nn {

LayerNorm::LayerNorm(int64_t dim, LayerNormOptions options) : dim_(dim), eps_(options.eps) {
  if (dim <= 0) {
    throw std::invalid_argument("LayerNorm: dim must be positive, got " + std::to_string(dim));
  }
  weight_ = register_parameter("weight", ones({dim_}, options.dtype));
  bias_ = register_parameter("bias", zeros({dim_}, options.dtype));
}

ag::Variable LayerNorm::forward(const ag::Variable& x) const {
  if (x.dim() < 1 || x.size(-1) != dim_) {
    throw std::invalid_argument("LayerNorm: expected last dim " + std::to_string(dim_) + ", got " +
                                shape_str(x.shape()));
  }
  return ag::layer_norm(x, weight_, bias_, eps_);
}

}  // namespace tg::nn
