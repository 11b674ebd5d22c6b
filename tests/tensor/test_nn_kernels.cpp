// test_nn_kernels.cpp — softmax, log_softmax, layer norm and gelu_backward.
//
// Forward kernels against the naive formulas (long double, no max subtracted: the reference must
// not share the kernel's trick); backward kernels against central finite differences in f64 of
// L(x) = sum_i g_i f(x)_i with a random (non-uniform) upstream gradient g.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <vector>

#include "tensor/ops.h"

using namespace tg;

namespace {

Tensor random_tensor(const Shape& shape, DType dtype, Generator& gen, double scale = 1.0,
                     double shift = 0.0) {
  Tensor t(shape, dtype);
  dispatch_float(dtype, "random_tensor", [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(shift + scale * gen.normal());
  });
  return t;
}

Tensor tensor_of(const std::vector<double>& v, const Shape& shape, DType dtype) {
  Tensor t(shape, DType::F64);
  std::copy(v.begin(), v.end(), t.data<double>());
  return t.to(dtype);
}

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;  // also equal infinities
    worst = std::max(worst, std::abs(a[i] - b[i]));
  }
  return worst;
}

// Naive softmax / log_softmax of x along dim, in long double, straight from the definition.
std::vector<double> reference_softmax(const Tensor& x, int64_t dim, bool log) {
  const std::vector<double> v = x.to_vector();
  const Shape& s = x.shape();
  int64_t inner = 1;
  for (size_t d = dim + 1; d < s.size(); ++d) inner *= s[d];
  const int64_t n = s[dim], outer = x.numel() / (n * inner);
  std::vector<double> out(v.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t j) { return (o * n + j) * inner + i; };
      long double sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += std::exp(static_cast<long double>(v[at(j)]));
      for (int64_t j = 0; j < n; ++j) {
        const long double e = std::exp(static_cast<long double>(v[at(j)]));
        out[at(j)] = static_cast<double>(log ? std::log(e / sum) : e / sum);
      }
    }
  }
  return out;
}

// dL/dx for L(x) = sum_i g_i f(x)_i, by central differences (x is f64).
std::vector<double> numeric_grad(const std::function<Tensor(const Tensor&)>& f, const Tensor& x,
                                 const Tensor& g, double eps = 1e-6) {
  Tensor xc = x.clone();
  double* p = xc.data<double>();
  const std::vector<double> gv = g.to_vector();
  auto loss = [&] {
    const std::vector<double> y = f(xc).to_vector();
    double s = 0.0;
    for (size_t i = 0; i < y.size(); ++i) s += gv[i] * y[i];
    return s;
  };
  std::vector<double> grad(x.numel());
  for (int64_t j = 0; j < x.numel(); ++j) {
    const double keep = p[j];
    p[j] = keep + eps;
    const double up = loss();
    p[j] = keep - eps;
    const double down = loss();
    p[j] = keep;
    grad[j] = (up - down) / (2 * eps);
  }
  return grad;
}

}  // namespace

TEST_CASE("softmax and log_softmax match the naive formulas along the last dim") {
  Generator gen(11);
  for (DType dt : {DType::F32, DType::F64}) {
    const double tol = dt == DType::F32 ? 2e-6 : 1e-14;
    const Tensor x = random_tensor({6, 9}, dt, gen, 3.0);
    CHECK(max_diff(softmax(x, -1).to_vector(), reference_softmax(x, 1, false)) < tol);
    CHECK(max_diff(log_softmax(x, 1).to_vector(), reference_softmax(x, 1, true)) < 10 * tol);
    CHECK(softmax(x, -1).dtype() == dt);
    Tensor scalar(Shape{}, dt);  // a 0-d tensor is one row of one element
    scalar.fill_(3.0);
    CHECK(softmax(scalar, 0).item() == 1.0);
    CHECK(log_softmax(scalar, -1).item() == 0.0);
    CHECK(softmax(scalar, 0).shape() == Shape{});
  }
}

TEST_CASE("softmax of large inputs does not overflow") {
  Generator gen(12);
  for (DType dt : {DType::F32, DType::F64}) {
    // e^1000 overflows both f32 and f64; the long double reference still holds it
    const Tensor x = random_tensor({3, 50}, dt, gen, 1.0, 1000.0);
    const Tensor y = softmax(x, -1);
    CHECK(all_finite(y));
    const double tol = dt == DType::F32 ? 1e-6 : 1e-14;
    CHECK(max_diff(y.to_vector(), reference_softmax(x, 1, false)) < tol);
    CHECK(max_diff(log_softmax(x, -1).to_vector(), reference_softmax(x, 1, true)) <
          (dt == DType::F32 ? 1e-3 : 1e-12));  // f32 rounds x itself to ~6e-5 near 1000
  }
}

TEST_CASE("f32 softmax holds its relative accuracy for tiny probabilities") {
  // Entries spread over [-60, 0]: probabilities from 1e-26 up; the f32 exp must hold its
  // relative accuracy across that whole range, not only near 1. The bound is what f32 allows:
  // rounding x - max near 60 (half an ulp, 1.9e-6) moves e^(x - max) by that much relatively.
  Generator gen(19);
  std::vector<double> v(4 * 64);
  for (double& e : v) e = gen.uniform(-60.0, 0.0);
  const Tensor x = tensor_of(v, {4, 64}, DType::F32);
  const std::vector<double> y = softmax(x, 1).to_vector();
  const std::vector<double> want = reference_softmax(x, 1, false);
  double worst = 0.0;
  for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::abs(y[i] / want[i] - 1));
  CHECK(worst < 3e-6);
}

TEST_CASE("softmax gives a -inf entry probability 0") {
  const double inf = std::numeric_limits<double>::infinity();
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor x = tensor_of({1.0, -inf, 2.0, 0.5, 0.5, -inf}, {2, 3}, dt);
    const std::vector<double> y = softmax(x, 1).to_vector();
    const std::vector<double> want = reference_softmax(x, 1, false);
    CHECK(y[1] == 0.0);
    CHECK(y[5] == 0.0);
    CHECK(max_diff(y, want) < 1e-6);
    const std::vector<double> ly = log_softmax(x, 1).to_vector();
    CHECK(ly[1] == -inf);
    CHECK(max_diff(ly, reference_softmax(x, 1, true)) < 1e-6);
  }
}

TEST_CASE("softmax along a dim that is not the last, and of strided inputs") {
  Generator gen(13);
  for (DType dt : {DType::F32, DType::F64}) {
    const double tol = dt == DType::F32 ? 2e-6 : 1e-14;
    const Tensor x = random_tensor({3, 4, 5}, dt, gen, 2.0);
    for (int64_t dim : {0, 1, 2}) {
      INFO("dim ", dim);
      CHECK(max_diff(softmax(x, dim).to_vector(), reference_softmax(x, dim, false)) < tol);
      CHECK(max_diff(log_softmax(x, dim).to_vector(), reference_softmax(x, dim, true)) < 10 * tol);
    }
    const Tensor xt = random_tensor({5, 4}, dt, gen).transpose(0, 1);  // (4, 5), strides (1, 4)
    CHECK(max_diff(softmax(xt, -1).to_vector(), reference_softmax(xt.contiguous(), 1, false)) <
          tol);
    // large enough for the parallel path, along dim 0 (every row gathered)
    const Tensor big = random_tensor({64, 600}, dt, gen);
    CHECK(max_diff(softmax(big, 0).to_vector(), reference_softmax(big, 0, false)) < tol);
    CHECK_THROWS_WITH_AS(softmax(x, 3), "softmax: dim 3 out of range for a tensor of rank 3",
                         std::exception);
  }
}

TEST_CASE("softmax_backward and log_softmax_backward match finite differences") {
  Generator gen(14);
  const Tensor x = random_tensor({3, 4, 5}, DType::F64, gen);
  const Tensor g = random_tensor({3, 4, 5}, DType::F64, gen);
  for (int64_t dim : {2, 1, 0}) {
    INFO("dim ", dim);
    const Tensor dx = softmax_backward(g, softmax(x, dim), dim);
    const auto num = numeric_grad([&](const Tensor& t) { return softmax(t, dim); }, x, g);
    CHECK(max_diff(dx.to_vector(), num) < 1e-8);
    const Tensor dlx = log_softmax_backward(g, log_softmax(x, dim), dim);
    const auto lnum = numeric_grad([&](const Tensor& t) { return log_softmax(t, dim); }, x, g);
    CHECK(max_diff(dlx.to_vector(), lnum) < 1e-8);
  }
  // a transposed upstream gradient (strided rows in the backward kernel)
  const Tensor gt = random_tensor({5, 4}, DType::F64, gen).transpose(0, 1);
  const Tensor x2 = random_tensor({4, 5}, DType::F64, gen);
  const auto num = numeric_grad([&](const Tensor& t) { return softmax(t, 1); }, x2, gt);
  CHECK(max_diff(softmax_backward(gt, softmax(x2, 1), 1).to_vector(), num) < 1e-8);
  CHECK_THROWS_WITH_AS(softmax_backward(g, x2, 1),
                       "softmax_backward: gradient (3,4,5) does not match output (4,5)",
                       std::invalid_argument);
}

namespace {
// Naive layer norm of x (R, C) in double: y, mean, rstd.
void reference_layer_norm(const Tensor& x, const std::vector<double>& w,
                          const std::vector<double>& b, double eps, std::vector<double>& y,
                          std::vector<double>& mean, std::vector<double>& rstd) {
  const std::vector<double> v = x.to_vector();
  const int64_t C = x.size(-1), R = x.numel() / C;
  y.assign(v.size(), 0.0);
  mean.assign(R, 0.0);
  rstd.assign(R, 0.0);
  for (int64_t r = 0; r < R; ++r) {
    double m = 0.0, var = 0.0;
    for (int64_t i = 0; i < C; ++i) m += v[r * C + i] / C;
    for (int64_t i = 0; i < C; ++i) var += (v[r * C + i] - m) * (v[r * C + i] - m) / C;
    mean[r] = m;
    rstd[r] = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < C; ++i) {
      const double norm = (v[r * C + i] - m) * rstd[r];
      y[r * C + i] = norm * (w.empty() ? 1.0 : w[i]) + (b.empty() ? 0.0 : b[i]);
    }
  }
}
}  // namespace

TEST_CASE("layer_norm matches the naive formula, with and without weight and bias") {
  Generator gen(15);
  for (DType dt : {DType::F32, DType::F64}) {
    const double tol = dt == DType::F32 ? 1e-5 : 1e-12;
    const Tensor x = random_tensor({2, 3, 16}, dt, gen, 2.0, 0.5);
    const Tensor w = random_tensor({16}, dt, gen), b = random_tensor({16}, dt, gen);
    std::vector<double> y, mean, rstd;
    reference_layer_norm(x, w.to_vector(), b.to_vector(), 1e-5, y, mean, rstd);
    const LayerNormResult out = layer_norm(x, w, b, 1e-5);
    CHECK(out.y.shape() == x.shape());
    CHECK(out.mean.shape() == Shape{2, 3});
    CHECK(out.rstd.shape() == Shape{2, 3});
    CHECK(max_diff(out.y.to_vector(), y) < tol);
    CHECK(max_diff(out.mean.to_vector(), mean) < tol);
    CHECK(max_diff(out.rstd.to_vector(), rstd) < tol);

    reference_layer_norm(x, {}, {}, 1e-3, y, mean, rstd);
    CHECK(max_diff(layer_norm(x, Tensor(), Tensor(), 1e-3).y.to_vector(), y) < tol);
    reference_layer_norm(x, w.to_vector(), {}, 1e-5, y, mean, rstd);
    CHECK(max_diff(layer_norm(x, w, Tensor()).y.to_vector(), y) < tol);

    const Tensor xt = random_tensor({8, 5}, dt, gen).transpose(0, 1);  // (5, 8), not contiguous
    reference_layer_norm(xt, {}, {}, 1e-5, y, mean, rstd);
    CHECK(max_diff(layer_norm(xt, Tensor(), Tensor()).y.to_vector(), y) < tol);
  }
  const Tensor x = random_tensor({2, 4}, DType::F32, gen);
  CHECK_THROWS_WITH_AS(layer_norm(x, random_tensor({5}, DType::F32, gen), Tensor()),
                       "layer_norm: weight (5) does not match the last dim of x (2,4)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(layer_norm(x, Tensor(), random_tensor({4}, DType::F64, gen)),
                       "layer_norm: dtype mismatch: f32 (2,4) cpu vs f64 (4) cpu",
                       std::invalid_argument);
}

TEST_CASE("layer_norm_backward matches finite differences for x, weight and bias") {
  Generator gen(16);
  const Tensor x = random_tensor({3, 2, 7}, DType::F64, gen, 1.5, 0.3);
  const Tensor w = random_tensor({7}, DType::F64, gen), b = random_tensor({7}, DType::F64, gen);
  const Tensor g = random_tensor({3, 2, 7}, DType::F64, gen);
  const LayerNormResult fwd = layer_norm(x, w, b, 1e-5);
  const LayerNormGrads grads = layer_norm_backward(g, x, w, fwd.mean, fwd.rstd);
  const auto dx = numeric_grad([&](const Tensor& t) { return layer_norm(t, w, b).y; }, x, g);
  const auto dw = numeric_grad([&](const Tensor& t) { return layer_norm(x, t, b).y; }, w, g);
  const auto db = numeric_grad([&](const Tensor& t) { return layer_norm(x, w, t).y; }, b, g);
  CHECK(max_diff(grads.dx.to_vector(), dx) < 1e-7);
  CHECK(max_diff(grads.dweight.to_vector(), dw) < 1e-7);
  CHECK(max_diff(grads.dbias.to_vector(), db) < 1e-7);

  // without weight and bias: dx only
  const LayerNormResult plain = layer_norm(x, Tensor(), Tensor());
  const LayerNormGrads pg = layer_norm_backward(g, x, Tensor(), plain.mean, plain.rstd);
  const auto pdx =
      numeric_grad([&](const Tensor& t) { return layer_norm(t, Tensor(), Tensor()).y; }, x, g);
  CHECK(max_diff(pg.dx.to_vector(), pdx) < 1e-7);
  CHECK_FALSE(pg.dweight.defined());
  CHECK_FALSE(pg.dbias.defined());
  CHECK_THROWS_WITH_AS(layer_norm_backward(g, x, w, fwd.rstd.slice(0, 0, 2), fwd.rstd),
                       "layer_norm_backward: mean (2,2) does not match x (3,2,7) without its "
                       "last dim",
                       std::invalid_argument);
}

TEST_CASE("layer_norm_backward sums dweight and dbias in an order independent of threads") {
  Generator gen(17);
  const Tensor x = random_tensor({1000, 96}, DType::F32, gen);
  const Tensor w = random_tensor({96}, DType::F32, gen), b = random_tensor({96}, DType::F32, gen);
  const Tensor g = random_tensor({1000, 96}, DType::F32, gen);
  const LayerNormResult fwd = layer_norm(x, w, b);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const LayerNormGrads one = layer_norm_backward(g, x, w, fwd.mean, fwd.rstd);
  omp_set_num_threads(2);
  const LayerNormGrads two = layer_norm_backward(g, x, w, fwd.mean, fwd.rstd);
  omp_set_num_threads(threads);
  CHECK(one.dweight.to_vector() == two.dweight.to_vector());
  CHECK(one.dbias.to_vector() == two.dbias.to_vector());
  CHECK(one.dx.to_vector() == two.dx.to_vector());
  // and the f32 sums agree with an f64 run
  const LayerNormResult f64 = layer_norm(x.to(DType::F64), w.to(DType::F64), b.to(DType::F64));
  const LayerNormGrads ref =
      layer_norm_backward(g.to(DType::F64), x.to(DType::F64), w.to(DType::F64), f64.mean, f64.rstd);
  CHECK(max_diff(one.dbias.to_vector(), ref.dbias.to_vector()) < 1e-4);
  CHECK(max_diff(one.dweight.to_vector(), ref.dweight.to_vector()) < 1e-3);
}

TEST_CASE("gelu_backward matches finite differences of gelu") {
  Generator gen(18);
  const Tensor x = random_tensor({4, 9}, DType::F64, gen, 2.0);
  const Tensor g = random_tensor({4, 9}, DType::F64, gen);
  const auto num = numeric_grad([](const Tensor& t) { return gelu(t); }, x, g);
  CHECK(max_diff(gelu_backward(g, x).to_vector(), num) < 1e-8);
}
