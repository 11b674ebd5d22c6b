// module_testing.h — helpers shared by the nn tests: gradient checks of a module's input and of
// every one of its parameters, parameter names, padding redrawn, and small tensor utilities.
//
// Input gradients go through ag::gradcheck (the module's parameters are constants there).
// Parameter gradients cannot: gradcheck differentiates with respect to its own input Variables,
// while a module computes with its registered parameter leaves. So the parameters are checked
// the same way by hand: L = sum(G * f()) with a fixed random G; the analytic dL/dp comes from one
// backward(G) into the parameters' grad(), the numeric one from central differences obtained by
// perturbing each element of p in place (p.mutable_value(), f64, contiguous).
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/module.h"

namespace tg::nn::testing {

inline Tensor randn64(const Shape& shape, uint64_t seed, double std = 1.0) {
  Generator gen(seed);
  return randn(shape, gen, DType::F64, 0.0, std);
}

// The dotted names of `m`'s parameters, in registration order.
inline std::vector<std::string> names_of(const Module& m) {
  std::vector<std::string> names;
  for (const auto& [name, p] : m.named_parameters()) names.push_back(name);
  return names;
}

// x (B, T, C) with every padded token (mask (B, T) == 0) redrawn from N(0, std^2) in f32, token
// by token in (b, t) order from `gen`: a layer that ignores padding gives the same output at
// every valid token for x and for this.
inline Tensor redraw_padding(const Tensor& x, const Tensor& mask, Generator& gen, double std) {
  Tensor out = x.clone();
  for (int64_t b = 0; b < x.size(0); ++b) {
    for (int64_t t = 0; t < x.size(1); ++t) {
      if (mask.at({b, t}) == 0.0) {
        out.select(0, b).select(0, t).copy_(randn({x.size(2)}, gen, DType::F32, 0, std));
      }
    }
  }
  return out;
}

// d(sum(G * f(x)))/dx against finite differences, for every input of `fn`.
inline void expect_input_gradients(const std::string& name, const ag::GradcheckFn& fn,
                                   const std::vector<Tensor>& inputs) {
  const ag::GradcheckResult r = ag::gradcheck(fn, inputs);
  INFO(name);
  CHECK_MESSAGE(r.ok, r.message);
}

// d(sum(G * f()))/dp against finite differences, for every parameter p of `module` (f64).
inline void expect_parameter_gradients(const std::string& name, Module& module,
                                       const std::function<ag::Variable()>& f, double eps = 1e-6,
                                       double atol = 1e-7, double rtol = 1e-5) {
  INFO(name);
  module.zero_grad();
  const ag::Variable out = f();
  Generator gen(99);
  const Tensor G = randn(out.shape(), gen, DType::F64);
  out.backward(G);
  const auto loss = [&] {
    ag::NoGradGuard no_grad;
    return sum(mul(f().value(), G)).item();
  };
  for (const auto& [pname, p] : module.named_parameters()) {
    REQUIRE(p.dtype() == DType::F64);
    const std::vector<double> analytic =
        p.grad().defined() ? p.grad().to_vector() : std::vector<double>(p.numel(), 0.0);
    double* values = p.mutable_value().data<double>();
    double worst = 0.0;
    std::string failure;
    for (int64_t e = 0; e < p.numel(); ++e) {
      const double saved = values[e];
      values[e] = saved + eps;
      const double plus = loss();
      values[e] = saved - eps;
      const double minus = loss();
      values[e] = saved;
      const double numeric = (plus - minus) / (2 * eps);
      const double err = std::abs(analytic[e] - numeric);
      worst = std::max(worst, err);
      if (!(err <= atol + rtol * std::abs(numeric)) && failure.empty()) {
        std::ostringstream os;
        os.precision(10);
        os << pname << " element " << e << ": analytic " << analytic[e] << " numeric " << numeric;
        failure = os.str();
      }
    }
    CHECK_MESSAGE(failure.empty(), failure);
  }
}

}  // namespace tg::nn::testing
