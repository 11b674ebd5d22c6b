// test_gradcheck_elementwise_reduce.cpp — finite-difference checks of the elementwise and
// reduction ops (f64, random upstream gradient), including broadcasting and reused inputs.
#include <doctest/doctest.h>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"

using namespace tg;
using namespace tg::ag;

namespace {
Generator gen(2024);
Tensor rnd(const Shape& s) { return randn(s, gen, DType::F64); }
// Values kept away from 0 (log, sqrt, div) or from kinks (relu, abs, clamp, max).
Tensor positive(const Shape& s) { return rand(s, gen, DType::F64, 0.5, 2.0); }
Tensor away_from_zero(const Shape& s) {
  Tensor u = rand(s, gen, DType::F64, 0.2, 1.5);
  return mul(u, sign(rnd(s)) + 1e-30);  // random sign, |x| >= 0.2
}

void check_unary(const char* name, Variable (*f)(const Variable&), const Tensor& x) {
  auto r = gradcheck([f](const std::vector<Variable>& v) { return f(v[0]); }, {x});
  CHECK_MESSAGE(r.ok, name << ": " << r.message);
}
}  // namespace

TEST_CASE("gradcheck: unary elementwise ops") {
  const Shape s{3, 4};
  check_unary("neg", neg, rnd(s));
  check_unary("exp", exp, rnd(s));
  check_unary("log", log, positive(s));
  check_unary("sqrt", sqrt, positive(s));
  check_unary("tanh", tanh, rnd(s));
  check_unary("sigmoid", sigmoid, rnd(s));
  check_unary("relu", relu, away_from_zero(s));
  check_unary("abs", abs, away_from_zero(s));
  check_unary("square", square, rnd(s));
  check_unary("gelu", gelu, rnd(s));
}

TEST_CASE("gradcheck: scalar-parameter ops") {
  auto r = gradcheck([](const auto& v) { return pow_scalar(v[0], 2.5); }, {positive({5})});
  CHECK_MESSAGE(r.ok, r.message);
  r = gradcheck([](const auto& v) { return pow_scalar(v[0], -1.0); }, {positive({5})});
  CHECK_MESSAGE(r.ok, r.message);
  r = gradcheck([](const auto& v) { return affine(v[0], -1.5, 0.25); }, {rnd({2, 3})});
  CHECK_MESSAGE(r.ok, r.message);
  // clamp: values inside and outside [-0.5, 0.5], none near the edges
  const Tensor x = from_vector({-1.2, -0.3, 0.1, 0.45, 0.9, 2.0}, {6}, DType::F64);
  r = gradcheck([](const auto& v) { return clamp(v[0], -0.5, 0.5); }, {x});
  CHECK_MESSAGE(r.ok, r.message);
  r = gradcheck([](const auto& v) { return (v[0] * 2.0 - 1.0) / 4.0 + 3.0; }, {rnd({4})});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("gradcheck: binary ops, same shape and broadcast") {
  using Fn = Variable (*)(const Variable&, const Variable&);
  const std::pair<const char*, Fn> ops[] = {{"add", add},         {"sub", sub},
                                            {"mul", mul},         {"div", div},
                                            {"maximum", maximum}, {"minimum", minimum}};
  const std::pair<Shape, Shape> shapes[] = {
      {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 1}, {1, 4}}, {{2, 3, 4}, {3, 1}}, {{4}, {2, 3, 4}}};
  for (auto [name, f] : ops) {
    for (auto [sa, sb] : shapes) {
      const bool is_div = std::string(name) == "div";
      Tensor a = rnd(sa);
      Tensor b = is_div ? positive(sb) : rnd(sb);
      auto r = gradcheck([f](const std::vector<Variable>& v) { return f(v[0], v[1]); }, {a, b});
      CHECK_MESSAGE(r.ok,
                    name << " " << shape_str(sa) << " " << shape_str(sb) << ": " << r.message);
    }
  }
}

TEST_CASE("gradcheck: maximum/minimum split the gradient evenly on ties") {
  const Tensor a = from_vector({1.0, 2.0, 3.0}, {3}, DType::F64);
  Variable va(a, true), vb(a.clone(), true);
  sum(maximum(va, vb)).backward();
  CHECK(va.grad().to_vector() == std::vector<double>{0.5, 0.5, 0.5});
  CHECK(vb.grad().to_vector() == std::vector<double>{0.5, 0.5, 0.5});
}

TEST_CASE("gradcheck: one input used by several ops") {
  auto r = gradcheck(
      [](const std::vector<Variable>& v) {
        Variable x = v[0];
        return x * tanh(x) + exp(x) / (x * x + 1.0) - x;
      },
      {rnd({2, 5})});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("gradcheck: reductions over dims, all dims, keepdim, negative dims") {
  using Fn = Variable (*)(const Variable&, std::vector<int64_t>, bool);
  const std::pair<const char*, Fn> ops[] = {
      {"sum", sum}, {"mean", mean}, {"max", max}, {"logsumexp", logsumexp}};
  const std::vector<std::vector<int64_t>> dim_sets = {{}, {0}, {-1}, {0, 2}, {1}};
  for (auto [name, f] : ops) {
    for (const auto& dims : dim_sets) {
      for (bool keepdim : {false, true}) {
        auto r = gradcheck(
            [f, dims, keepdim](const std::vector<Variable>& v) { return f(v[0], dims, keepdim); },
            {rnd({2, 3, 4})});  // continuous random values: no ties for max
        CHECK_MESSAGE(r.ok, name << " dims " << shape_str(dims) << " keepdim " << keepdim << ": "
                                 << r.message);
      }
    }
  }
}

TEST_CASE("max shares the gradient among tied maxima") {
  Variable x(from_vector({1, 3, 3, 2}, {4}, DType::F64), true);
  max(x).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{0, 0.5, 0.5, 0});
}

TEST_CASE("gradcheck: non-contiguous inputs to elementwise and reductions") {
  auto r = gradcheck(
      [](const std::vector<Variable>& v) {
        Variable t = transpose(v[0], 0, 1);  // (4,3) view
        return logsumexp(t * sigmoid(t), {1});
      },
      {rnd({3, 4})});
  CHECK_MESSAGE(r.ok, r.message);
}
