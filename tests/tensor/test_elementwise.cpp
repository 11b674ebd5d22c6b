// test_elementwise.cpp — unary, binary (broadcasting), scalar and in-place elementwise ops.
#include <doctest/doctest.h>

#include <cmath>

#include "tensor/ops.h"

using namespace tg;

namespace {
std::vector<double> vec(const Tensor& t) { return t.to_vector(); }
}  // namespace

TEST_CASE("unary ops match their scalar formulas in f32 and f64") {
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor x = from_vector({-2.0, -0.5, 0.0, 0.7, 3.0}, {5}, dt);
    const auto xs = vec(x);
    auto check = [&](const Tensor& y, double (*f)(double)) {
      const auto ys = vec(y);
      for (size_t i = 0; i < xs.size(); ++i)
        CHECK(ys[i] == doctest::Approx(f(xs[i])).epsilon(1e-6));
    };
    check(neg(x), [](double v) { return -v; });
    check(exp(x), [](double v) { return std::exp(v); });
    check(tanh(x), [](double v) { return std::tanh(v); });
    check(sigmoid(x), [](double v) { return 1 / (1 + std::exp(-v)); });
    check(relu(x), [](double v) { return v > 0 ? v : 0.0; });
    check(abs(x), [](double v) { return std::fabs(v); });
    check(square(x), [](double v) { return v * v; });
    check(sign(x), [](double v) { return double((v > 0) - (v < 0)); });
    check(gelu(x), [](double v) {
      return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    });
    const Tensor p = from_vector({0.25, 1.0, 4.0}, {3}, dt);
    CHECK(vec(sqrt(p)) == std::vector<double>{0.5, 1, 2});
    CHECK(vec(rsqrt(p)) == std::vector<double>{2, 1, 0.5});
    CHECK(vec(log(p))[2] == doctest::Approx(std::log(4.0)));
    CHECK(vec(reciprocal(p)) == std::vector<double>{4, 1, 0.25});
  }
}

TEST_CASE("binary ops broadcast as NumPy does") {
  const Tensor a = from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor row = from_vector({10, 20, 30}, {3});
  const Tensor col = from_vector({100, 200}, {2, 1});
  CHECK(vec(a + row) == std::vector<double>{11, 22, 33, 14, 25, 36});
  CHECK(vec(a + col) == std::vector<double>{101, 102, 103, 204, 205, 206});
  CHECK(vec(row - col).size() == 6);
  CHECK((col * row).shape() == Shape{2, 3});
  CHECK(vec(a / scalar_tensor(2)) == std::vector<double>{0.5, 1, 1.5, 2, 2.5, 3});
  CHECK(vec(maximum(a, scalar_tensor(3.5))) == std::vector<double>{3.5, 3.5, 3.5, 4, 5, 6});
  CHECK(vec(minimum(a, row)) == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(vec(pow(a, scalar_tensor(2))) == std::vector<double>{1, 4, 9, 16, 25, 36});
  CHECK(vec(lt(a, scalar_tensor(3))) == std::vector<double>{1, 1, 0, 0, 0, 0});
  CHECK(vec(eq(a, from_vector({1, 0, 3}, {3}))) == std::vector<double>{1, 0, 1, 0, 0, 0});
  CHECK(vec(ge(a, scalar_tensor(5))) == std::vector<double>{0, 0, 0, 0, 1, 1});
  // (2,1,3) with (4,1) -> (2,4,3)
  const Tensor b3 = from_vector({1, 2, 3, 4, 5, 6}, {2, 1, 3});
  const Tensor c41 = from_vector({0, 1, 2, 3}, {4, 1});
  const Tensor out = b3 * c41;
  CHECK(out.shape() == Shape{2, 4, 3});
  CHECK(out.at({1, 3, 2}) == 18.0);
}

TEST_CASE("binary ops on non-contiguous operands") {
  const Tensor a = arange(12, DType::F64).view({3, 4});
  const Tensor t = a.transpose(0, 1);  // (4,3)
  const Tensor s = t + t;
  CHECK(s.at({3, 2}) == 2 * a.at({2, 3}));
  const Tensor sl = a.slice(1, 0, 4, 2);  // columns 0, 2
  CHECK(vec(sl * sl) == std::vector<double>{0, 4, 16, 36, 64, 100});
}

TEST_CASE("a large binary op takes the parallel path and agrees with a serial loop") {
  Generator gen(3);
  const Tensor a = randn({512, 300}, gen);
  const Tensor b = randn({300}, gen);
  const Tensor c = a * b;
  const auto av = vec(a), bv = vec(b), cv = vec(c);
  bool ok = true;
  for (int64_t i = 0; i < 512 * 300; ++i) ok &= static_cast<float>(av[i] * bv[i % 300]) == cv[i];
  CHECK(ok);
}

TEST_CASE("scalar ops: affine, pow_scalar, clamp, operators") {
  const Tensor x = from_vector({-1, 0, 2}, {3});
  CHECK(vec(affine(x, 2, 1)) == std::vector<double>{-1, 1, 5});
  CHECK(vec(x * 3.0) == std::vector<double>{-3, 0, 6});
  CHECK(vec(2.0 * x) == std::vector<double>{-2, 0, 4});
  CHECK(vec(x - 1.0) == std::vector<double>{-2, -1, 1});
  CHECK(vec(x / 2.0) == std::vector<double>{-0.5, 0, 1});
  CHECK(vec(-x) == std::vector<double>{1, 0, -2});
  CHECK(vec(pow_scalar(x, 3)) == std::vector<double>{-1, 0, 8});
  CHECK(vec(clamp(x, -0.5, 1)) == std::vector<double>{-0.5, 0, 1});
  CHECK_THROWS_WITH_AS(clamp(x, 1, 0), "clamp: low > high", std::invalid_argument);
}

TEST_CASE("in-place add_ and mul_") {
  Tensor a = zeros({2, 3});
  add_(a, from_vector({1, 2, 3}, {3}), 2.0);
  CHECK(vec(a) == std::vector<double>{2, 4, 6, 2, 4, 6});
  mul_(a, 0.5);
  CHECK(vec(a) == std::vector<double>{1, 2, 3, 1, 2, 3});
  Tensor e = zeros({3}).expand({2, 3});
  CHECK_THROWS_WITH_AS(add_(e, ones({2, 3})),
                       "add_: cannot write in place to an expanded (broadcast) tensor of shape "
                       "(2,3)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(add_(a, ones({4, 2, 3})), "add_: cannot add (4,2,3) in place into (2,3)",
                       std::invalid_argument);
}

TEST_CASE("elementwise errors name the op, the shapes and the dtypes") {
  CHECK_THROWS_WITH_AS(zeros({4, 3}) + zeros({5, 2}),
                       "add: shapes (4,3) and (5,2) cannot be broadcast", std::invalid_argument);
  CHECK_THROWS_WITH_AS(mul(zeros({2}), zeros({2}, DType::F64)),
                       "mul: dtype mismatch: f32 (2) cpu vs f64 (2) cpu", std::invalid_argument);
  CHECK_THROWS_WITH_AS(exp(from_indices({1, 2})),
                       "exp: dtype i64 is not supported (expected f32 or f64)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(exp(Tensor()), "exp: undefined tensor", std::invalid_argument);
}

TEST_CASE("gelu_backward is the derivative of gelu") {
  const Tensor x = from_vector({-3, -1, -0.2, 0, 0.4, 2.5}, {6}, DType::F64);
  const Tensor g = from_vector({1, -2, 0.5, 1, 3, -1}, {6}, DType::F64);
  const auto analytic = vec(gelu_backward(g, x));
  const double eps = 1e-6;
  const auto up = vec(gelu(x + eps)), down = vec(gelu(x - eps)), gs = vec(g);
  for (int i = 0; i < 6; ++i) {
    CHECK(analytic[i] == doctest::Approx(gs[i] * (up[i] - down[i]) / (2 * eps)).epsilon(1e-7));
  }
}
