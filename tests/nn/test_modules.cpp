// test_modules.cpp — the small modules: Linear, Embedding, LayerNorm, MLP. Their parameter
// names and shapes, their forward against the formula, gradchecks (f64) with respect to the
// input and every parameter, seeded initialisation (reproducible, the right distribution), and
// shape errors that name the module.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "module_testing.h"
#include "nn/embedding.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "nn/mlp.h"
#include "testing.h"

using namespace tg;
using namespace tg::nn;
using tg::nn::testing::expect_input_gradients;
using tg::nn::testing::expect_parameter_gradients;
using tg::nn::testing::names_of;
using tg::nn::testing::randn64;
using tg::testing::error_of;

namespace {

// Sample mean and standard deviation of a tensor's elements.
std::pair<double, double> mean_std(const Tensor& t) {
  const std::vector<double> v = t.to_vector();
  double mean = 0.0, sq = 0.0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (double x : v) sq += (x - mean) * (x - mean);
  return {mean, std::sqrt(sq / static_cast<double>(v.size()))};
}

}  // namespace

// ----------------------------------------------------------------------------------------- Linear

TEST_CASE("Linear stores weight (out, in) and computes x W^T + b") {
  Generator gen(1);
  Linear linear(3, 2, gen, LinearOptions::uniform(DType::F64));
  CHECK(names_of(linear) == std::vector<std::string>{"weight", "bias"});
  CHECK(linear.weight().shape() == Shape{2, 3});
  CHECK(linear.bias().shape() == Shape{2});
  CHECK(linear.parameter_count() == 8);

  const Tensor x = randn64({4, 5, 3}, 2);
  const Tensor y = linear.forward(ag::Variable(x)).value();  // (4, 5, 2)
  REQUIRE(y.shape() == Shape{4, 5, 2});
  const Tensor w = linear.weight().value(), b = linear.bias().value();
  for (int64_t i = 0; i < 4; ++i) {
    for (int64_t t = 0; t < 5; ++t) {
      for (int64_t o = 0; o < 2; ++o) {
        double expected = b.at({o});
        for (int64_t k = 0; k < 3; ++k) expected += x.at({i, t, k}) * w.at({o, k});
        CHECK(y.at({i, t, o}) == doctest::Approx(expected).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("Linear gradients with respect to the input and the parameters") {
  for (bool bias : {true, false}) {
    Generator gen(3);
    Linear linear(4, 3, gen, LinearOptions::uniform(DType::F64, bias));
    const std::string name = bias ? "with bias" : "without bias";
    if (!bias) CHECK(names_of(linear) == std::vector<std::string>{"weight"});
    expect_input_gradients(name, [&](const auto& v) { return linear.forward(v[0]); },
                           {randn64({2, 5, 4}, 4)});
    const ag::Variable x(randn64({2, 5, 4}, 5));
    expect_parameter_gradients(name, linear, [&] { return linear.forward(x); });
  }
}

TEST_CASE("Linear initialisation: PyTorch's uniform bound, GPT-2's normal, reproducible") {
  Generator a(7), b(7), c(8);
  Linear la(256, 64, a), lb(256, 64, b), lc(256, 64, c);
  CHECK(max_abs_diff(la.weight().value(), lb.weight().value()) == 0.0);
  CHECK(max_abs_diff(la.bias().value(), lb.bias().value()) == 0.0);
  CHECK(max_abs_diff(la.weight().value(), lc.weight().value()) > 0.0);
  const double bound = 1.0 / 16.0;  // 1/sqrt(256)
  CHECK(max(abs(la.weight().value())).item() <= bound);
  CHECK(max(abs(la.bias().value())).item() <= bound);
  // U(-a, a) has std a / sqrt(3); 16384 samples pin it to about 1%.
  CHECK(mean_std(la.weight().value()).second ==
        doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.03));

  Generator d(9);
  Linear normal(256, 64, d, LinearOptions::normal(0.02));
  const auto [mean, std] = mean_std(normal.weight().value());
  CHECK(std::abs(mean) < 0.001);
  CHECK(std == doctest::Approx(0.02).epsilon(0.03));
  CHECK(max(abs(normal.bias().value())).item() == 0.0);
  CHECK(normal.weight().dtype() == DType::F32);
}

TEST_CASE("Linear rejects a wrong input width, naming itself and the shape") {
  Generator gen(1);
  Linear linear(16, 4, gen);
  const std::string msg = error_of([&] { linear.forward(ag::Variable(zeros({3, 5, 8}))); });
  CHECK(msg == "Linear: expected last dim 16, got (3,5,8)");
}

// -------------------------------------------------------------------------------------- Embedding

TEST_CASE("Embedding looks up rows, accumulates repeated ids, and draws N(0, std^2)") {
  Generator gen(11);
  Embedding table(5, 3, gen, {1.0, DType::F64});
  CHECK(names_of(table) == std::vector<std::string>{"weight"});
  const Tensor ids = from_indices({4, 0, 4, 2}, {2, 2});
  const ag::Variable y = table.forward(ids);  // (2, 2, 3)
  REQUIRE(y.shape() == Shape{2, 2, 3});
  for (int64_t e = 0; e < 3; ++e) {
    CHECK(y.value().at({0, 0, e}) == table.weight().value().at({4, e}));
    CHECK(y.value().at({1, 1, e}) == table.weight().value().at({2, e}));
  }
  expect_parameter_gradients("embedding with repeated ids", table,
                             [&] { return table.forward(ids); });
  CHECK(error_of([&] { table.forward(zeros({2})); }).starts_with("Embedding: ids must be"));

  Generator g1(12), g2(12);
  Embedding wide(512, 64, g1, {0.02}), again(512, 64, g2, {0.02});
  CHECK(max_abs_diff(wide.weight().value(), again.weight().value()) == 0.0);
  CHECK(mean_std(wide.weight().value()).second == doctest::Approx(0.02).epsilon(0.02));
  Generator g3(13);
  Embedding unit(512, 64, g3);  // TGMM's task embedding: N(0, 1)
  CHECK(mean_std(unit.weight().value()).second == doctest::Approx(1.0).epsilon(0.02));
}

// -------------------------------------------------------------------------------------- LayerNorm

TEST_CASE("LayerNorm starts at weight 1, bias 0, normalises rows, and has correct gradients") {
  LayerNorm ln(6, {1e-5, DType::F64});
  CHECK(names_of(ln) == std::vector<std::string>{"weight", "bias"});
  CHECK(ln.weight().value().to_vector() == std::vector<double>(6, 1.0));
  CHECK(ln.bias().value().to_vector() == std::vector<double>(6, 0.0));
  const Tensor x = randn64({3, 4, 6}, 21, 3.0);
  const Tensor y = ln.forward(ag::Variable(x)).value();
  const Tensor row_mean = mean(y, {-1});
  const Tensor row_var = mean(square(y), {-1});
  CHECK(max(abs(row_mean)).item() < 1e-12);
  CHECK(max(abs(row_var - 1.0)).item() < 1e-5);  // var/(var+eps) ~ 1 - eps/var

  // Non-trivial weight and bias, so their gradients are checked at a generic point.
  ln.weight().assign(randn64({6}, 22));
  ln.bias().assign(randn64({6}, 23));
  expect_input_gradients("layer norm input", [&](const auto& v) { return ln.forward(v[0]); }, {x});
  const ag::Variable xv(x);
  expect_parameter_gradients("layer norm parameters", ln, [&] { return ln.forward(xv); });
  CHECK(error_of([&] {
          ln.forward(ag::Variable(zeros({2, 5}, DType::F64)));
        }) == "LayerNorm: expected last dim 6, got (2,5)");
}

// -------------------------------------------------------------------------------------------- MLP

TEST_CASE("MLP is c_proj(act(c_fc(x))) with hidden width 4D by default") {
  Generator gen(31);
  MLP mlp(4, gen, {.dtype = DType::F64});
  CHECK(names_of(mlp) ==
        std::vector<std::string>{"c_fc.weight", "c_fc.bias", "c_proj.weight", "c_proj.bias"});
  CHECK(mlp.c_fc().weight().shape() == Shape{16, 4});
  CHECK(mlp.c_proj().weight().shape() == Shape{4, 16});
  CHECK(mlp.parameter_count() == 16 * 4 + 16 + 4 * 16 + 4);

  const Tensor x = randn64({2, 3, 4}, 32);
  const ag::Variable y = mlp.forward(ag::Variable(x));
  const ag::Variable expected = mlp.c_proj().forward(ag::gelu(mlp.c_fc().forward(ag::Variable(x))));
  CHECK(max_abs_diff(y.value(), expected.value()) == 0.0);
}

TEST_CASE("MLP gradients, GELU and ReLU, with non-zero biases") {
  for (Activation act : {Activation::Gelu, Activation::Relu}) {
    Generator gen(33);
    MLP mlp(
        3, gen,
        {.hidden = 5, .activation = act, .init_std = 0.7, .proj_std = 0.7, .dtype = DType::F64});
    mlp.c_fc().bias().assign(randn64({5}, 34));
    mlp.c_proj().bias().assign(randn64({3}, 35));
    const std::string name = act == Activation::Gelu ? "gelu" : "relu";
    expect_input_gradients(name, [&](const auto& v) { return mlp.forward(v[0]); },
                           {randn64({2, 4, 3}, 36)});
    const ag::Variable x(randn64({2, 4, 3}, 37));
    expect_parameter_gradients(name, mlp, [&] { return mlp.forward(x); });
  }
}
