// op_registry.h — the list of every differentiable op, each with its family.
//
// make_op() refuses a name that is not listed here, and tests/autograd/ fails when a listed op
// has no gradcheck. Adding an op therefore means: its forward and backward in an ops_*.cpp,
// its name here, and its gradcheck case — or the build's tests go red.
//
// The family groups ops for the lap profiler (tensor/profiler.h): make_op laps each op's forward,
// and the engine each op's backward, under the op's family, and tools/bench sums the time per
// family ("time by op family").
#pragma once
#include <string_view>
#include <vector>

namespace tg::ag {

struct RegisteredOp {
  std::string_view name;
  const char* family;
};

inline const std::vector<RegisteredOp>& registered_ops() {
  static constexpr const char* kElementwise = "elementwise";
  static constexpr const char* kGelu = "gelu";
  static constexpr const char* kReductions = "reductions";
  static constexpr const char* kGemm = "matmul (GEMM)";
  static constexpr const char* kSoftmax = "softmax / attention";
  static constexpr const char* kLayerNorm = "layer norm";
  static constexpr const char* kSelect = "select / gather / concat";
  static constexpr const char* kViews = "views and copies";
  static const std::vector<RegisteredOp> ops = {
      // elementwise
      {"neg", kElementwise},
      {"exp", kElementwise},
      {"log", kElementwise},
      {"sqrt", kElementwise},
      {"tanh", kElementwise},
      {"sigmoid", kElementwise},
      {"relu", kElementwise},
      {"abs", kElementwise},
      {"square", kElementwise},
      {"gelu", kGelu},
      {"pow_scalar", kElementwise},
      {"affine", kElementwise},
      {"clamp", kElementwise},
      {"add", kElementwise},
      {"sub", kElementwise},
      {"mul", kElementwise},
      {"div", kElementwise},
      {"maximum", kElementwise},
      {"minimum", kElementwise},
      // reductions
      {"sum", kReductions},
      {"mean", kReductions},
      {"max", kReductions},
      {"logsumexp", kReductions},
      // linear algebra
      {"matmul", kGemm},
      {"linear", kGemm},
      // nn
      {"softmax", kSoftmax},
      {"log_softmax", kSoftmax},
      {"layer_norm", kLayerNorm},
      {"attention", kSoftmax},
      // selection
      {"where", kSelect},
      {"masked_fill", kSelect},
      {"concat", kSelect},
      {"stack", kSelect},
      {"gather", kSelect},
      {"index_select", kSelect},
      {"embedding", kSelect},
      // views
      {"reshape", kViews},
      {"permute", kViews},
      {"transpose", kViews},
      {"narrow", kViews},
      {"select", kViews},
      {"expand", kViews},
      {"squeeze", kViews},
      {"unsqueeze", kViews},
      {"contiguous", kViews},
  };
  return ops;
}

// The entry of `name`, or nullptr when it is not registered.
const RegisteredOp* find_registered_op(std::string_view name);
bool is_registered_op(std::string_view name);
// The family of a registered op; "other" for any other name.
const char* op_family(std::string_view name);

}  // namespace tg::ag
