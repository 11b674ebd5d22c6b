// test_fast_math.cpp — the vectorisable f32 exp / tanh, and the CPU's f32 sigmoid built on them
// (tensor/scalar_ops.h), against the C library in f64.
#include <doctest/doctest.h>

#include <cmath>

#include "tensor/cpu/fast_math.h"
#include "tensor/scalar_ops.h"

using namespace tg::cpu;

namespace {
float sigmoid_f32(float x) { return tg::apply_unary(tg::UnaryOp::Sigmoid, x); }
}  // namespace

TEST_CASE("fast f32 tanh and sigmoid stay within a few ulp-scale relative error") {
  double worst_tanh = 0, worst_sigmoid = 0, worst_exp = 0;
  for (double x = -20; x <= 20; x += 1e-3) {
    const float xf = static_cast<float>(x);
    const double t = std::tanh(static_cast<double>(xf));
    worst_tanh = std::max(worst_tanh, std::abs(tanh_f32(xf) - t) / std::max(std::abs(t), 1e-30));
    const double s = 1 / (1 + std::exp(-static_cast<double>(xf)));
    worst_sigmoid = std::max(worst_sigmoid, std::abs(sigmoid_f32(xf) - s) / s);
    const double e = std::exp(static_cast<double>(xf));
    worst_exp = std::max(worst_exp, std::abs(exp_f32(xf) - e) / e);
  }
  for (double x = 1e-8; x < 0.2; x *= 1.01) {  // tiny arguments: the series branch
    const float xf = static_cast<float>(x);
    const double t = std::tanh(static_cast<double>(xf));
    worst_tanh = std::max(worst_tanh, std::abs(tanh_f32(-xf) + t) / t);
  }
  CHECK(worst_tanh < 5e-7);
  CHECK(worst_sigmoid < 5e-7);
  CHECK(worst_exp < 2e-7);
  CHECK(tanh_f32(0.0f) == 0.0f);
  CHECK(tanh_f32(100.0f) == 1.0f);
  CHECK(tanh_f32(-100.0f) == -1.0f);
  CHECK(std::isnan(tanh_f32(NAN)));
  CHECK(sigmoid_f32(-200.0f) == 0.0f);
  CHECK(sigmoid_f32(200.0f) == 1.0f);
}

TEST_CASE("tanh_f32 saturates to exactly +-1 for large |x|, and keeps NaN") {
  // tanh_f32 clamps its exponent at -87 (e^-87 instead of 0 past |x| = 43.5): the quotient must
  // still be exactly 1 there, as everywhere past |x| = 10 (1 - tanh 10 = 4e-9, below half an ulp).
  int off = 0;
  for (double x = 10; x < 1e30; x *= 1.001) {
    const float xf = static_cast<float>(x);
    if (tanh_f32(xf) != 1.0f || tanh_f32(-xf) != -1.0f) ++off;
  }
  CHECK(off == 0);
  CHECK(tanh_f32(INFINITY) == 1.0f);
  CHECK(tanh_f32(-INFINITY) == -1.0f);
  CHECK(std::isnan(tanh_f32(-NAN)));
}
