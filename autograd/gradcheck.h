// gradcheck.h — compare backward() with central finite differences, in f64.
//
// For f: inputs -> output and a random upstream gradient G (non-uniform, so a rule that mixes up
// elements cannot pass by symmetry), the analytic gradient of L = sum(G * f(inputs)) comes from
// backward(G), and the numeric one from (L(x + eps e_i) - L(x - eps e_i)) / (2 eps) for every
// element i of every floating input. They must agree within atol + rtol * |numeric| everywhere.
// i64 inputs (indices) are passed through as constants.
#pragma once
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace tg::ag {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-7;
  double rtol = 1e-5;
  uint64_t seed = 1234;
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0.0;
  std::string message;             // first failure, "input 0 element 3: analytic .. numeric .."
  std::set<std::string> ops_seen;  // every op name in the graph of the output
};

using GradcheckFn = std::function<Variable(const std::vector<Variable>&)>;

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

// Op names seen by every gradcheck run so far in this process (for the coverage test).
const std::set<std::string>& gradchecked_ops();

}  // namespace tg::ag
