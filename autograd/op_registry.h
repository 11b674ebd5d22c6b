// op_registry.h — the list of every differentiable op.
//
// make_op() refuses a name that is not listed here, and tests/autograd/ fails when a listed op
// has no gradcheck. Adding an op therefore means: its forward and backward in an ops_*.cpp,
// its name here, and its gradcheck case — or the build's tests go red.
#pragma once
#include <string_view>
#include <vector>

namespace tg::ag {

inline const std::vector<std::string_view>& registered_ops() {
  static const std::vector<std::string_view> ops = {
      // elementwise
      "neg",
      "exp",
      "log",
      "sqrt",
      "tanh",
      "sigmoid",
      "relu",
      "abs",
      "square",
      "gelu",
      "pow_scalar",
      "affine",
      "clamp",
      "add",
      "sub",
      "mul",
      "div",
      "maximum",
      "minimum",
      // reductions
      "sum",
      "mean",
      "max",
      "logsumexp",
      // linear algebra
      "matmul",
      "linear",
      // nn
      "softmax",
      "log_softmax",
      "layer_norm",
      "attention",
      // selection
      "where",
      "masked_fill",
      "concat",
      "stack",
      "gather",
      "index_select",
      "embedding",
      // views
      "reshape",
      "permute",
      "transpose",
      "narrow",
      "select",
      "expand",
      "squeeze",
      "unsqueeze",
      "contiguous",
  };
  return ops;
}

bool is_registered_op(std::string_view name);

}  // namespace tg::ag
