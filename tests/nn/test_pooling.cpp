// test_pooling.cpp — AttentivePooling (TGMM's readout): names and init, the loop reference with
// and without a mask, gradchecks of the input and every parameter, padding that never matters,
// and a sequence without valid positions pooling to zeros.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "module_testing.h"
#include "nn/pooling.h"

using namespace tg;
using namespace tg::nn;
using tg::nn::testing::expect_input_gradients;
using tg::nn::testing::expect_parameter_gradients;
using tg::nn::testing::randn64;

namespace {

// Dimension letters as in pooling.h: B, N, D, Q, O. The readout from its definition, in f64.
Tensor reference_pooling(const AttentivePooling& pool, const Tensor& h, const Tensor& mask) {
  const Tensor q = pool.queries().value(), Wk = pool.k_proj().weight().value(),
               Wv = pool.v_proj().weight().value();
  const int64_t B = h.size(0), N = h.size(1), D = h.size(2), Q = q.size(0), O = q.size(1);
  Tensor out = zeros({B, Q, O}, DType::F64);
  for (int64_t b = 0; b < B; ++b) {
    std::vector<std::vector<double>> k(N, std::vector<double>(O)), v = k;  // (N, O)
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t o = 0; o < O; ++o) {
        for (int64_t d = 0; d < D; ++d) {
          k[n][o] += Wk.at({o, d}) * h.at({b, n, d});
          v[n][o] += Wv.at({o, d}) * h.at({b, n, d});
        }
      }
    }
    for (int64_t j = 0; j < Q; ++j) {
      std::vector<double> s;
      std::vector<int64_t> valid;
      for (int64_t n = 0; n < N; ++n) {
        if (mask.defined() && mask.at({b, n}) == 0.0) continue;
        double dot = 0.0;
        for (int64_t o = 0; o < O; ++o) dot += k[n][o] * q.at({j, o});
        s.push_back(dot);
        valid.push_back(n);
      }
      if (valid.empty()) continue;
      const double top = *std::max_element(s.begin(), s.end());
      double total = 0.0;
      for (double& x : s) total += x = std::exp(x - top);
      for (size_t i = 0; i < valid.size(); ++i) {
        for (int64_t o = 0; o < O; ++o) {
          out.select(0, b).select(0, j).narrow(0, o, 1).fill_(out.at({b, j, o}) +
                                                              s[i] / total * v[valid[i]][o]);
        }
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("AttentivePooling: parameter names, shapes and TGMM's initialisation") {
  Generator gen(1);
  AttentivePooling pool(128, 5, 7, gen);
  std::vector<std::string> names;
  for (const auto& [name, p] : pool.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"queries", "k_proj.weight", "v_proj.weight"});
  CHECK(pool.queries().shape() == Shape{5, 7});
  CHECK(pool.k_proj().weight().shape() == Shape{7, 128});
  CHECK(!pool.k_proj().bias().defined());
  CHECK(max(abs(pool.k_proj().weight().value())).item() <= 1.0 / std::sqrt(128.0));
  CHECK(max(abs(pool.v_proj().weight().value())).item() <= 1.0 / std::sqrt(128.0));
  Generator big(2);
  AttentivePooling wide(8, 64, 64, big);  // 4096 queries entries, N(0, 1)
  const Tensor q = wide.queries().value();
  const double m = mean(q).item();
  CHECK(std::abs(m) < 0.05);
  CHECK(std::sqrt(mean(square(q - m)).item()) == doctest::Approx(1.0).epsilon(0.05));
  Generator again(2);
  AttentivePooling same(8, 64, 64, again);
  CHECK(max_abs_diff(same.queries().value(), q) == 0.0);
}

TEST_CASE("AttentivePooling matches the loop reference, masked and unmasked") {
  Generator gen(3);
  AttentivePooling pool(6, 3, 4, gen, DType::F64);
  const Tensor h = randn64({3, 5, 6}, 4, 2.0);
  const Tensor mask = from_vector({1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1}, {3, 5});
  CHECK(max_abs_diff(pool.forward(ag::Variable(h)).value(), reference_pooling(pool, h, Tensor())) <
        1e-12);
  CHECK(max_abs_diff(pool.forward(ag::Variable(h), mask).value(),
                     reference_pooling(pool, h, mask)) < 1e-12);
}

TEST_CASE("AttentivePooling gradients with respect to the input and every parameter") {
  Generator gen(5);
  AttentivePooling pool(4, 3, 5, gen, DType::F64);
  const Tensor mask = from_vector({1, 0, 1, 1, 1, 1, 1, 0}, {2, 4});
  for (bool masked : {false, true}) {
    const Tensor m = masked ? mask : Tensor();
    const std::string name = masked ? "masked" : "unmasked";
    expect_input_gradients(name, [&](const auto& v) { return pool.forward(v[0], m); },
                           {randn64({2, 4, 4}, 6)});
    const ag::Variable h(randn64({2, 4, 4}, 7));
    expect_parameter_gradients(name, pool, [&] { return pool.forward(h, m); });
  }
}

TEST_CASE("AttentivePooling ignores padding exactly; an all-padding sequence pools to zeros") {
  Generator gen(8);
  AttentivePooling pool(8, 5, 6, gen);
  const Tensor mask = from_vector({1, 1, 1, 0, 0, 0, 0, 0, 0, 0}, {2, 5});
  Generator data(9);
  const Tensor h = randn({2, 5, 8}, data);
  Tensor h2 = h.clone();
  h2.select(0, 0).narrow(0, 3, 2).copy_(randn({2, 8}, data, DType::F32, 0, 100));
  const ag::Variable x(h, true);
  const ag::Variable y = pool.forward(x, mask);
  const Tensor y2 = pool.forward(ag::Variable(h2), mask).value();
  CHECK(max_abs_diff(y.value().select(0, 0), y2.select(0, 0)) == 0.0);
  CHECK(max(abs(y.value().select(0, 1))).item() == 0.0);
  y.backward(randn({2, 5, 6}, data));
  CHECK(all_finite(x.grad()));
  CHECK(max(abs(x.grad().select(0, 1))).item() == 0.0);
  CHECK(max(abs(x.grad().select(0, 0).narrow(0, 3, 2))).item() == 0.0);
  CHECK_THROWS_WITH(pool.forward(ag::Variable(h), zeros({2, 4})),
                    "AttentivePooling: mask must be (B, N) = (2,5), got (2,4)");
  CHECK_THROWS_WITH(pool.forward(ag::Variable(zeros({2, 5, 7}))),
                    "AttentivePooling: expected input (B, N, 8), got (2,5,7)");
}
