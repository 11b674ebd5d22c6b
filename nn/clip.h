// clip.h — global-norm gradient clipping and a finiteness check on gradients.
//
// clip_grad_norm follows torch.nn.utils.clip_grad_norm_ (L2 norm):
//   total = sqrt(sum over parameters of sum(g * g))       accumulated in double
//   coef  = max_norm / (total + 1e-6);  if coef < 1, every gradient is multiplied by coef
// and returns `total`, the norm before clipping. Parameters without a gradient are skipped.
// A non-finite total (a NaN or Inf somewhere) leaves the gradients untouched: the caller checks
// the returned value (std::isfinite) and decides (the trainer stops on it).
//
// The sum is deterministic: every tensor is summed in fixed 64K-element chunks whose partial
// sums are added in order, so the result does not depend on the number of threads.
#pragma once
#include <string>
#include <vector>

#include "nn/module.h"

namespace tg::nn {

double clip_grad_norm(const std::vector<ag::Variable>& params, double max_norm);
double clip_grad_norm(const NamedParameters& params, double max_norm);

// The global L2 norm of the gradients (same sum as clip_grad_norm), without changing them.
double grad_norm(const std::vector<ag::Variable>& params);

// The name of the first parameter whose gradient has a NaN or Inf, or "" when all are finite.
std::string first_nonfinite_grad(const NamedParameters& params);
inline bool grads_finite(const NamedParameters& params) {
  return first_nonfinite_grad(params).empty();
}

}  // namespace tg::nn
