// gradcheck.h — compare backward() with central finite differences, in f64.
//
// For f: inputs -> output and a random upstream gradient G (non-uniform, so a rule that mixes up
// elements cannot pass by symmetry), the analytic gradient of L = sum(G * f(inputs)) comes from
// backward(G), and the numeric one from (L(x + eps e_i) - L(x - eps e_i)) / (2 eps) for every
// element i of every floating input. They must agree within atol + rtol * |numeric| everywhere.
// i64 inputs (indices) are passed through as constants.
//
// Device: the environment variable TG_TEST_DEVICE (cpu, the default, or cuda) says where the
// function runs: inputs are moved there for the analytic pass and for every finite-difference
// evaluation (perturbed on the host, then copied), so the same gradchecks test the CUDA kernels'
// backward rules in f64. Asking for cuda on a machine without a GPU is an error, not a pass.
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

// The device gradchecks run on: TG_TEST_DEVICE, or the CPU when unset; throws when it names a
// device this machine or build cannot provide.
Device gradcheck_device();

// Op names seen by every gradcheck run so far in this process (for the coverage test).
const std::set<std::string>& gradchecked_ops();

}  // namespace tg::ag
