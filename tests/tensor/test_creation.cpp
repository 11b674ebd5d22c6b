// test_creation.cpp — creation ops (constants, ranges, host vectors, random) and the utilities
// (max_abs_diff, allclose, all_finite, thread count).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "tensor/ops.h"

using namespace tg;

namespace {
using V = std::vector<double>;
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();
}  // namespace

TEST_CASE("zeros, ones and full fill every element with the value in the requested dtype") {
  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    const Tensor z = zeros({2, 3}, dt);
    CHECK(z.shape() == Shape{2, 3});
    CHECK(z.dtype() == dt);
    CHECK(z.is_contiguous());
    CHECK(z.to_vector() == V(6, 0.0));
    CHECK(ones({4}, dt).to_vector() == V(4, 1.0));
    CHECK(full({3, 1}, 7.0, dt).to_vector() == V(3, 7.0));
  }
  CHECK(full({2}, 0.1, DType::F32).to_vector()[0] == static_cast<double>(0.1f));
  CHECK(full({2}, -2.75, DType::I64).to_vector() == V{-2, -2});  // truncated like a C++ cast
  CHECK(empty({5, 0}).numel() == 0);
  CHECK(zeros({}).shape() == Shape{});
  CHECK(zeros({}).numel() == 1);
}

TEST_CASE("the *_like creators copy shape and dtype from their argument") {
  const Tensor t = from_vector({1, 2, 3, 4, 5, 6}, {3, 2}, DType::F64).transpose(0, 1);
  for (const Tensor& made : {zeros_like(t), ones_like(t), full_like(t, 2.5)}) {
    CHECK(made.shape() == Shape{2, 3});
    CHECK(made.dtype() == DType::F64);
    CHECK(made.is_contiguous());
  }
  CHECK(ones_like(t).to_vector() == V(6, 1.0));
  CHECK(full_like(t, 2.5).to_vector() == V(6, 2.5));
  CHECK_THROWS_WITH_AS(zeros_like(Tensor()), "zeros_like: undefined tensor", std::invalid_argument);
}

TEST_CASE("arange counts from 0, or from start by step up to but excluding end") {
  CHECK(arange(5).to_vector() == V{0, 1, 2, 3, 4});
  CHECK(arange(3, DType::I64).dtype() == DType::I64);
  CHECK(arange(0).numel() == 0);
  CHECK(arange(2.0, 8.0, 2.0, DType::F64).to_vector() == V{2, 4, 6});
  CHECK(arange(2.0, 9.0, 2.0, DType::F64).to_vector() == V{2, 4, 6, 8});
  CHECK(arange(1.0, -1.0, -0.5, DType::F64).to_vector() == V{1, 0.5, 0, -0.5});
  CHECK(arange(5.0, 1.0, 1.0).numel() == 0);  // empty, not negative
  const V frac = arange(0.0, 1.0, 0.1, DType::F64).to_vector();
  REQUIRE(frac.size() == 10);
  CHECK(frac[7] == doctest::Approx(0.7));
  CHECK_THROWS_WITH_AS(arange(0.0, 1.0, 0.0),
                       "arange: start, end and step must be finite and step nonzero",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(arange(-2), "arange: negative length -2", std::invalid_argument);
}

TEST_CASE("from_vector lays values out row-major and checks the count against the shape") {
  const Tensor t = from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::F64);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.at({1, 0}) == 4.0);
  CHECK(t.at({0, 2}) == 3.0);
  CHECK(from_vector({1, 2, 3}).shape() == Shape{3});  // shape {} means 1-D
  CHECK(from_vector({1, 2, 3}).dtype() == DType::F32);
  CHECK(from_vector({-1, 7}, {}, DType::I64).to_vector() == V{-1, 7});
  CHECK_THROWS_WITH_AS(from_vector({1, 2, 3}, {2, 2}),
                       "from_vector: 3 values for shape (2,2) (4 elements)", std::invalid_argument);
}

TEST_CASE("from_indices keeps 64-bit values exactly") {
  const int64_t big = (int64_t{1} << 53) + 1;  // not representable in double
  const Tensor t = from_indices({big, -3, 0, 5}, {2, 2});
  CHECK(t.dtype() == DType::I64);
  CHECK(t.shape() == Shape{2, 2});
  CHECK(t.data<int64_t>()[0] == big);
  CHECK(t.data<int64_t>()[1] == -3);
  CHECK_THROWS_WITH_AS(from_indices({1, 2}, {3}),
                       "from_indices: 2 values for shape (3) (3 elements)", std::invalid_argument);
}

TEST_CASE("scalar_tensor has shape () and one element") {
  const Tensor s = scalar_tensor(2.5, DType::F64);
  CHECK(s.shape() == Shape{});
  CHECK(s.dim() == 0);
  CHECK(s.item() == 2.5);
}

TEST_CASE("randn is reproducible from the seed and has the requested mean and std") {
  Generator g1(7), g2(7), g3(8);
  const Tensor a = randn({200, 500}, g1, DType::F64, 1.5, 2.0);
  const Tensor b = randn({200, 500}, g2, DType::F64, 1.5, 2.0);
  const Tensor c = randn({200, 500}, g3, DType::F64, 1.5, 2.0);
  CHECK(max_abs_diff(a, b) == 0.0);
  CHECK(max_abs_diff(a, c) > 0.1);
  const V v = a.to_vector();
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= v.size();
  for (double x : v) s += (x - m) * (x - m);
  s = std::sqrt(s / v.size());
  CHECK(m == doctest::Approx(1.5).epsilon(0.01));
  CHECK(s == doctest::Approx(2.0).epsilon(0.01));
}

TEST_CASE("randn draws the stream in row-major order, f32 being the rounded f64 values") {
  Generator g(3), ref(3);
  const V x = randn({3, 4}, g, DType::F32).to_vector();
  for (size_t i = 0; i < x.size(); ++i)
    CHECK(x[i] == static_cast<double>(static_cast<float>(ref.normal())));
  // The next call continues the stream.
  CHECK(randn({1}, g, DType::F64).item() == ref.normal());
}

TEST_CASE("random tensors do not depend on the thread count") {
  const int saved = num_threads();
  Generator g1(11), g2(11);
  set_num_threads(1);
  const Tensor a = rand({300, 300}, g1, DType::F32, -1.0, 1.0);
  set_num_threads(2);
  const Tensor b = rand({300, 300}, g2, DType::F32, -1.0, 1.0);
  set_num_threads(saved);
  CHECK(max_abs_diff(a, b) == 0.0);
}

TEST_CASE("rand stays inside [low, high) and rejects non-floating dtypes") {
  Generator g(5);
  const V v = rand({100000}, g, DType::F32, 2.0, 3.0).to_vector();
  double lo = 10, hi = -10, m = 0;
  for (double x : v) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    m += x;
  }
  CHECK(lo >= 2.0);
  CHECK(hi < 3.0);
  CHECK(m / v.size() == doctest::Approx(2.5).epsilon(0.01));
  CHECK_THROWS_WITH_AS(rand({2}, g, DType::I64),
                       "rand: dtype i64 is not supported (expected f32 or f64)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(randn({2}, g, DType::I64),
                       "randn: dtype i64 is not supported (expected f32 or f64)",
                       std::invalid_argument);
}

// ------------------------------------------------------------------------------------ utilities

TEST_CASE("max_abs_diff is the largest elementwise difference, across dtypes and layouts") {
  const Tensor a = from_vector({1, 2, 3, 4}, {2, 2}, DType::F64);
  const Tensor b =
      from_vector({1, 3, 2, 4.5}, {2, 2}, DType::F32).transpose(0, 1);  // [[1,2],[3,4.5]]
  CHECK(max_abs_diff(a, b) == 0.5);
  CHECK(max_abs_diff(a, a) == 0.0);
  const Tensor inf = from_vector({kInf, 1});
  CHECK(max_abs_diff(inf, inf) == 0.0);
  CHECK(std::isnan(max_abs_diff(from_vector({kNaN, 1}), from_vector({0, 1}))));
  CHECK_THROWS_WITH_AS(max_abs_diff(a, from_vector({1, 2})),
                       "max_abs_diff: shapes (2,2) and (2) differ", std::invalid_argument);
}

TEST_CASE("allclose uses atol + rtol * |b| and treats NaN as different") {
  const Tensor a = from_vector({1.0, 100.0}, {}, DType::F64);
  const Tensor b = from_vector({1.0, 100.003}, {}, DType::F64);
  CHECK_FALSE(allclose(a, b, 1e-5, 1e-8));  // 0.003 > 1e-8 + 1e-5 * 100.003
  CHECK(allclose(a, b, 1e-5, 1e-2));        // atol covers it
  CHECK(allclose(a, b, 1e-4, 0.0));         // rtol covers it
  CHECK_FALSE(allclose(from_vector({kNaN}), from_vector({kNaN})));
  CHECK(allclose(from_vector({kInf}), from_vector({kInf})));
  CHECK_THROWS_WITH_AS(allclose(a, zeros({3})), "allclose: shapes (2) and (3) differ",
                       std::invalid_argument);
}

TEST_CASE("all_finite spots NaN and infinity anywhere, also in a strided view") {
  Tensor t = zeros({3, 4}, DType::F64);
  CHECK(all_finite(t));
  CHECK(all_finite(from_indices({1, 2})));
  t.narrow(0, 2, 1).narrow(1, 3, 1).fill_(kInf);
  CHECK_FALSE(all_finite(t));
  CHECK_FALSE(all_finite(t.transpose(0, 1)));
  CHECK(all_finite(t.narrow(0, 0, 2)));
  CHECK_FALSE(all_finite(from_vector({0, kNaN})));
}

TEST_CASE("set_num_threads sets the count num_threads reports and rejects zero") {
  const int saved = num_threads();
  set_num_threads(1);
  CHECK(num_threads() == 1);
  set_num_threads(3);
  CHECK(num_threads() == 3);
  set_num_threads(saved);
  CHECK(num_threads() == saved);
  CHECK_THROWS_WITH_AS(set_num_threads(0), "set_num_threads: need at least 1 thread, got 0",
                       std::invalid_argument);
}
