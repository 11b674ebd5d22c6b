// test_optim.cpp — AdamW and SGD against torch.optim, state export/import, LR schedules and
// gradient clipping.
//
// The PyTorch values come from tests/fixtures/optim.json, made by make_optim_fixture.py with
// Debian's python3-torch 1.13: several steps with a changing learning rate, weight decay, and a
// step where one parameter has no gradient. We replay the same inputs in float32.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numbers>
#include <set>

#include "nn/clip.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "testing.h"

using namespace tg;
using namespace tg::nn;
using tg::testing::max_relative_error;
using json = nlohmann::json;

namespace {

json load_fixture() {
  std::ifstream in(std::string(TG_SOURCE_DIR) + "/tests/fixtures/optim.json");
  REQUIRE(in.good());
  return json::parse(in);
}

Tensor f32(const json& values, const json& shape) {
  return from_vector(values.get<std::vector<double>>(), shape.get<std::vector<int64_t>>(),
                     DType::F32)
      .reshape(shape.get<std::vector<int64_t>>());
}

std::unique_ptr<Optimizer> make_optimizer(const json& options, NamedParameters params) {
  if (options["kind"] == "adamw") {
    AdamWOptions o;
    o.weight_decay = options["weight_decay"];
    auto names = options["decay"].get<std::set<std::string>>();
    o.decay = [names](const std::string& n) { return names.count(n) > 0; };
    return std::make_unique<AdamW>(std::move(params), o);
  }
  SGDOptions o;
  o.momentum = options["momentum"];
  o.dampening = options["dampening"];
  o.weight_decay = options["weight_decay"];
  o.nesterov = options["nesterov"];
  return std::make_unique<SGD>(std::move(params), o);
}

// Replays one fixture case; returns the worst relative error over all steps and parameters.
double replay(const json& c, Optimizer** keep = nullptr) {
  NamedParameters params;
  for (const auto& [name, p] : c["params"].items()) {
    params.emplace_back(name, ag::Variable(f32(p["init"], p["shape"]), true));
  }
  auto opt = make_optimizer(c["options"], params);
  double worst = 0;
  for (size_t k = 0; k < c["steps"].size(); ++k) {
    const json& step = c["steps"][k];
    opt->set_lr(step["lr"]);
    for (auto& [name, p] : params) {
      const json& g = step["grads"][name];
      if (g.is_null())
        p.zero_grad();
      else
        p.set_grad(f32(g, c["params"][name]["shape"]));
    }
    opt->step();
    for (auto& [name, p] : params) {
      const Tensor want = from_vector(c["after"][k][name].get<std::vector<double>>(), {},
                                      DType::F64);  // flat in the fixture
      REQUIRE(want.numel() == p.numel());
      worst = std::max(worst, max_relative_error(p.value(), want.reshape(p.shape())));
    }
  }
  if (keep) *keep = opt.release();
  return worst;
}

ag::Variable param(const std::vector<double>& values) {
  return ag::Variable(from_vector(values), true);
}

}  // namespace

TEST_CASE("optim: AdamW and SGD match torch.optim step by step (float32, rel err <= 1e-6)") {
  json fixture = load_fixture();
  for (const auto& [name, c] : fixture["cases"].items()) {
    CAPTURE(name);
    double err = replay(c);
    MESSAGE(name << ": max relative error vs PyTorch " << err);
    CHECK(err <= 1e-6);
  }
}

TEST_CASE("optim: AdamW skips a parameter without gradient and keeps per-parameter steps") {
  json fixture = load_fixture();
  Optimizer* raw = nullptr;
  replay(fixture["cases"]["adamw"], &raw);
  std::unique_ptr<Optimizer> opt(raw);
  NamedTensors state = opt->export_state();
  REQUIRE(state.size() == 9);  // step, m, v for w, b, s
  std::map<std::string, Tensor> by_name(state.begin(), state.end());
  CHECK(by_name.at("adamw.step.w").item() == 6);
  CHECK(by_name.at("adamw.step.b").item() == 5);  // "b" had no gradient in one of 6 steps
  CHECK(by_name.at("adamw.m.w").shape() == Shape{3, 4});
  CHECK(by_name.at("adamw.v.s").shape() == Shape{});
}

TEST_CASE("optim: step leaves a parameter with no gradient untouched and creates no state") {
  ag::Variable a = param({1, 2}), b = param({3, 4});
  AdamW adam({{"a", a}, {"b", b}}, AdamWOptions{});
  SGD sgd({{"a", a}, {"b", b}}, SGDOptions{.lr = 0.1, .momentum = 0.9});
  a.set_grad(from_vector({1, 1}));
  adam.step();
  sgd.step();
  CHECK(b.value().to_vector() == std::vector<double>{3, 4});
  CHECK(adam.export_state().size() == 3);
  REQUIRE(sgd.export_state().size() == 1);
  CHECK(sgd.export_state()[0].first == "sgd.momentum.a");
  adam.zero_grad();
  CHECK_FALSE(a.grad().defined());
}

TEST_CASE("optim: the threaded AdamW pass over a big tensor equals per-element updates") {
  Generator gen(7);
  const int64_t n = 100003;  // above the OpenMP threshold, not a multiple of anything
  Tensor init = randn({n}, gen), grad = randn({n}, gen);
  ag::Variable big(init.clone(), true);
  AdamW big_opt({{"big", big}}, AdamWOptions{.lr = 0.01, .weight_decay = 0.1});
  // The same elements as 7 small tensors, each below the threshold (one thread each).
  NamedParameters small;
  for (int64_t i = 0, k = 0; i < n; i += 20000, ++k) {
    int64_t len = std::min<int64_t>(20000, n - i);
    std::string name = "p";
    name += std::to_string(k);
    small.emplace_back(name, ag::Variable(init.narrow(0, i, len).clone(), true));
  }
  AdamW small_opt(small, AdamWOptions{.lr = 0.01, .weight_decay = 0.1});
  for (int step = 0; step < 3; ++step) {
    big.set_grad(grad.clone());
    for (size_t k = 0; k < small.size(); ++k) {
      small[k].second.set_grad(grad.narrow(0, int64_t(k) * 20000, small[k].second.numel()).clone());
    }
    big_opt.step();
    small_opt.step();
  }
  for (size_t k = 0; k < small.size(); ++k) {
    Tensor part = big.value().narrow(0, int64_t(k) * 20000, small[k].second.numel());
    CHECK(max_abs_diff(part, small[k].second.value()) == 0.0);
  }
}

TEST_CASE("optim: import_state restores AdamW exactly and rejects foreign state") {
  ag::Variable a = param({0.5, -1.5, 2.0});
  AdamW first({{"a", a}}, AdamWOptions{.lr = 0.05});
  for (int i = 0; i < 3; ++i) {
    a.set_grad(from_vector({0.1 * i, -0.2, 0.3}));
    first.step();
  }
  ag::Variable b(a.value().clone(), true);
  AdamW second({{"a", b}}, AdamWOptions{.lr = 0.05});
  second.import_state(first.export_state());
  a.set_grad(from_vector({1, 2, 3}));
  b.set_grad(from_vector({1, 2, 3}));
  first.step();
  second.step();
  CHECK(max_abs_diff(a.value(), b.value()) == 0.0);

  NamedTensors bad = first.export_state();
  bad.emplace_back("adamw.m.nope", zeros({3}));
  CHECK_THROWS_WITH(second.import_state(bad),
                    doctest::Contains("AdamW.import_state: no parameter named 'nope'"));
  NamedTensors wrong_shape = {{"adamw.step.a", from_indices({1}).reshape({})},
                              {"adamw.m.a", zeros({4})},
                              {"adamw.v.a", zeros({3})}};
  CHECK_THROWS_WITH(second.import_state(wrong_shape), doctest::Contains("state 'adamw.m.a'"));
  NamedTensors incomplete = {{"adamw.m.a", zeros({3})}};
  CHECK_THROWS_WITH(second.import_state(incomplete), doctest::Contains("incomplete state"));
  CHECK_THROWS_WITH(second.import_state({{"sgd.momentum.a", zeros({3})}}),
                    doctest::Contains("unexpected state tensor 'sgd.momentum.a'"));
}

TEST_CASE("optim: bad gradients, learning rates and options are refused") {
  ag::Variable a = param({1, 2});
  AdamW adam({{"a", a}});
  a.set_grad(from_vector({1, 2}, {}, DType::F64));
  CHECK_THROWS_WITH(adam.step(), doctest::Contains("AdamW.step: gradient of 'a'"));
  CHECK_THROWS_WITH(adam.set_lr(-1), doctest::Contains("learning rate"));
  CHECK_THROWS(AdamW({{"a", a}, {"a", a}}));
  CHECK_THROWS(SGD({{"a", a}}, SGDOptions{.momentum = 0.0, .nesterov = true}));
}

// ------------------------------------------------------------------------------ schedules
TEST_CASE("schedule: constant, with and without warm-up") {
  LrSchedule c = constant_schedule(3e-3);
  CHECK(c.lr_at(0) == 3e-3);
  CHECK(c.lr_at(100000) == 3e-3);
  LrSchedule w = constant_schedule(1e-3, 4);
  CHECK(w.lr_at(0) == doctest::Approx(0.25e-3));
  CHECK(w.lr_at(3) == doctest::Approx(1e-3));
  CHECK(w.lr_at(50) == 1e-3);
}

TEST_CASE("schedule: linear warm-up then cosine decay to min_lr") {
  LrSchedule s = warmup_cosine_schedule(1e-3, 10, 110, 1e-4);
  CHECK(s.lr_at(0) == doctest::Approx(1e-4));  // 1/10 of the peak
  CHECK(s.lr_at(4) == doctest::Approx(5e-4));
  CHECK(s.lr_at(9) == doctest::Approx(1e-3));     // warm-up reaches the peak
  CHECK(s.lr_at(10) == doctest::Approx(1e-3));    // cosine starts at the peak
  CHECK(s.lr_at(60) == doctest::Approx(5.5e-4));  // half way: the mid point
  CHECK(s.lr_at(35) == doctest::Approx(1e-4 + 9e-4 * 0.5 * (1 + std::cos(std::numbers::pi / 4))));
  CHECK(s.lr_at(110) == doctest::Approx(1e-4));
  CHECK(s.lr_at(500) == 1e-4);
  for (int64_t t = 10; t < 110; ++t) CHECK(s.lr_at(t + 1) <= s.lr_at(t));
  CHECK_THROWS(warmup_cosine_schedule(1e-3, 10, 10));
  CHECK_THROWS(warmup_cosine_schedule(1e-3, 0, 10, 1e-2));
  CHECK_THROWS(s.lr_at(-1));
}

// ------------------------------------------------------------------------------- clipping
TEST_CASE("clip: global norm over all gradients, scaled only when above max_norm") {
  ag::Variable a = param({3, 0}), b = param({0, 0, 4}), none = param({1});
  a.set_grad(from_vector({3, 0}));
  b.set_grad(from_vector({0, 0, 4}));
  NamedParameters ps = {{"a", a}, {"b", b}, {"none", none}};
  CHECK(clip_grad_norm(ps, 10.0) == doctest::Approx(5.0));  // below: unchanged
  CHECK(a.grad().to_vector() == std::vector<double>{3, 0});
  CHECK(clip_grad_norm(ps, 1.0) == doctest::Approx(5.0));
  const double coef = 1.0 / (5.0 + 1e-6);
  CHECK(a.grad().at({0}) == doctest::Approx(3 * coef).epsilon(1e-7));
  CHECK(b.grad().at({2}) == doctest::Approx(4 * coef).epsilon(1e-7));
  CHECK(grad_norm({a, b}) == doctest::Approx(1.0).epsilon(1e-6));
}

TEST_CASE("clip: the norm is computed in double and does not depend on the thread count") {
  Generator gen(3);
  ag::Variable big(zeros({300001}), true);
  big.set_grad(randn({300001}, gen));
  double expected = 0;
  for (double g : big.grad().to_vector()) expected += g * g;
  int threads = num_threads();
  set_num_threads(1);
  double one = grad_norm({big});
  set_num_threads(2);
  double two = grad_norm({big});
  set_num_threads(threads);
  CHECK(one == two);
  CHECK(one == doctest::Approx(std::sqrt(expected)).epsilon(1e-12));
}

TEST_CASE("clip: a NaN or Inf gradient is reported and left alone") {
  ag::Variable a = param({1, 2}), b = param({1});
  a.set_grad(from_vector({1, 2}));
  b.set_grad(from_vector({NAN}));
  NamedParameters ps = {{"a", a}, {"b", b}};
  CHECK(first_nonfinite_grad(ps) == "b");
  CHECK_FALSE(grads_finite(ps));
  CHECK(std::isnan(clip_grad_norm(ps, 1.0)));
  CHECK(a.grad().to_vector() == std::vector<double>{1, 2});
  b.set_grad(from_vector({INFINITY}));
  CHECK(std::isinf(clip_grad_norm(ps, 1.0)));
  b.set_grad(from_vector({0.5}));
  CHECK(grads_finite(ps));
}
