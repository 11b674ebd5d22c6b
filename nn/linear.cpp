// linear.cpp — Linear: initialisation and forward (see linear.h).
#include "nn/linear.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "autograd/ops.h"

namespace tg::nn {

Linear::Linear(int64_t in_features, int64_t out_features, Generator& gen, LinearOptions options)
    : in_(in_features), out_(out_features) {
  if (in_features <= 0 || out_features <= 0) {
    throw std::invalid_argument("Linear: sizes must be positive, got in " +
                                std::to_string(in_features) + ", out " +
                                std::to_string(out_features));
  }
  const Shape weight_shape{out_, in_};  // (O, I)
  if (options.init == LinearInit::Uniform) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_));
    weight_ = register_parameter("weight", rand(weight_shape, gen, options.dtype, -bound, bound));
    if (options.bias) {
      bias_ = register_parameter("bias", rand({out_}, gen, options.dtype, -bound, bound));
    }
  } else {
    weight_ =
        register_parameter("weight", randn(weight_shape, gen, options.dtype, 0.0, options.std));
    if (options.bias) bias_ = register_parameter("bias", zeros({out_}, options.dtype));
  }
}

ag::Variable Linear::forward(const ag::Variable& x, const ag::Variable& residual) const {
  if (x.dim() < 1 || x.size(-1) != in_) {
    throw std::invalid_argument("Linear: expected last dim " + std::to_string(in_) + ", got " +
                                shape_str(x.shape()));
  }
  // (..., I) @ (I, O) + (O) [+ residual (..., O)] -> (..., O), one GEMM
  return ag::linear(x, weight_, bias_, residual);
}

}  // namespace tg::nn
