// test_linalg.cpp — eigh against matrices with known decompositions, and its defining
// properties on random symmetric matrices: A V[:, i] = w_i V[:, i], V^T V = I, V diag(w) V^T = A,
// eigenvalues ascending; both dtypes, batches, views, and the error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "tensor/linalg.h"
#include "tensor/ops.h"

using namespace tg;

namespace {

// The n x n identity in f64.
Tensor identity(int64_t n) {
  Tensor eye = zeros({n, n}, DType::F64);
  double* p = eye.data<double>();
  for (int64_t i = 0; i < n; ++i) p[i * n + i] = 1.0;
  return eye;
}

// A random symmetric positive definite n x n matrix: G G^T + n I, G standard normal.
Tensor random_spd(int64_t n, DType dtype, Generator& gen) {
  const Tensor g = randn({n, n}, gen, DType::F64);
  const Tensor a = matmul(g, g.transpose(0, 1)) + mul_scalar(identity(n), static_cast<double>(n));
  return a.to(dtype);
}

// Check the decomposition of one symmetric matrix a (n,n): ascending values, orthonormal
// columns, A V = V diag(w), V diag(w) V^T = A — in f64, to tolerance `tol` relative to |A|.
void check_decomposition(const Tensor& a, const Eigh& e, double tol) {
  const int64_t n = a.size(0);
  REQUIRE(e.values.shape() == Shape{n});
  REQUIRE(e.vectors.shape() == Shape{n, n});
  CHECK(e.values.dtype() == a.dtype());
  CHECK(e.vectors.dtype() == a.dtype());
  const Tensor a64 = a.to(DType::F64), w = e.values.to(DType::F64), v = e.vectors.to(DType::F64);
  const double scale = max(abs(a64)).item();
  for (int64_t i = 0; i + 1 < n; ++i) CHECK(w.at({i}) <= w.at({i + 1}));
  // V^T V = I
  CHECK(max_abs_diff(matmul(v.transpose(0, 1), v), identity(n)) < tol);
  // A V = V diag(w): column i of A V is w_i times column i of V.
  CHECK(max_abs_diff(matmul(a64, v), v * w.unsqueeze(0)) < tol * scale);
  // V diag(w) V^T = A
  CHECK(max_abs_diff(matmul(v * w.unsqueeze(0), v.transpose(0, 1)), a64) < tol * scale);
}

}  // namespace

TEST_CASE("eigh of a diagonal matrix: sorted diagonal, unit basis vectors") {
  for (DType dtype : {DType::F32, DType::F64}) {
    const Tensor a = from_vector({3, 0, 0, 0, -1, 0, 0, 0, 2}, {3, 3}, dtype);
    const Eigh e = eigh(a);
    CHECK(max_abs_diff(e.values, from_vector({-1, 2, 3}, {3}, dtype)) < 1e-6);
    // Eigenvalue -1 belongs to e_1, 2 to e_2, 3 to e_0 (up to sign).
    const Tensor v = abs(e.vectors);
    CHECK(max_abs_diff(v, from_vector({0, 0, 1, 1, 0, 0, 0, 1, 0}, {3, 3}, dtype)) < 1e-6);
  }
}

TEST_CASE("eigh of a 2x2 symmetric matrix matches the closed form") {
  // [[p, q], [q, r]]: w = (p + r)/2 -+ sqrt(((p - r)/2)^2 + q^2); for q != 0 the eigenvector of
  // w is proportional to (q, w - p).
  const double p = 2.0, q = -1.5, r = 0.5;
  const double centre = (p + r) / 2, radius = std::sqrt((p - r) * (p - r) / 4 + q * q);
  const double w[2] = {centre - radius, centre + radius};
  for (DType dtype : {DType::F32, DType::F64}) {
    const double tol = dtype == DType::F32 ? 1e-5 : 1e-12;
    const Eigh e = eigh(from_vector({p, q, q, r}, {2, 2}, dtype));
    for (int64_t i = 0; i < 2; ++i) {
      CHECK(std::abs(e.values.at({i}) - w[i]) < tol);
      const double x = q, y = w[i] - p, norm = std::hypot(x, y);
      const double v0 = e.vectors.at({0, i}), v1 = e.vectors.at({1, i});
      const double dot = (v0 * x + v1 * y) / norm;
      CHECK(std::abs(std::abs(dot) - 1.0) < tol);  // parallel, either sign
    }
  }
}

TEST_CASE("eigh of random SPD matrices: A v = lambda v, V^T V = I, reconstruction") {
  Generator gen(7);
  for (int64_t n : {1, 2, 5, 16, 40}) {
    const Tensor a64 = random_spd(n, DType::F64, gen);
    check_decomposition(a64, eigh(a64), 1e-12 * n);
    const Tensor a32 = a64.to(DType::F32);
    check_decomposition(a32, eigh(a32), 2e-6 * n);
    CHECK(eigh(a64).values.at({0}) > 0.0);  // positive definite
  }
}

TEST_CASE("eigh reads only the lower triangle, as numpy does") {
  Generator gen(3);
  const Tensor a = random_spd(4, DType::F64, gen);
  Tensor messy = a.clone();
  double* p = messy.data<double>();
  for (int64_t i = 0; i < 4; ++i) {
    for (int64_t j = i + 1; j < 4; ++j) p[i * 4 + j] = 100.0 + static_cast<double>(i + j);
  }
  CHECK(max_abs_diff(eigh(messy).values, eigh(a).values) < 1e-12);
}

TEST_CASE("eigh over a batch and of non-contiguous views") {
  Generator gen(11);
  std::vector<Tensor> mats;
  for (int i = 0; i < 6; ++i) mats.push_back(random_spd(4, DType::F64, gen));
  const Tensor batch = stack(mats, 0).reshape({2, 3, 4, 4});
  const Eigh e = eigh(batch);
  REQUIRE(e.values.shape() == Shape{2, 3, 4});
  REQUIRE(e.vectors.shape() == Shape{2, 3, 4, 4});
  for (int64_t i = 0; i < 6; ++i) {
    const Eigh one{e.values.reshape({6, 4}).select(0, i),
                   e.vectors.reshape({6, 4, 4}).select(0, i)};
    check_decomposition(mats[i], one, 1e-12);
  }
  // A transposed view is the same symmetric matrix; a strided slice of a batch works too.
  const Tensor t = mats[0].transpose(0, 1);
  CHECK(!t.is_contiguous());
  CHECK(max_abs_diff(eigh(t).values, eigh(mats[0]).values) < 1e-12);
  const Tensor every_other = stack(mats, 0).slice(0, 0, 6, 2);  // (3,4,4), stride 2 matrices
  CHECK(max_abs_diff(eigh(every_other).values.select(0, 1), eigh(mats[2]).values) < 1e-12);
}

TEST_CASE("eigh of empty batches and 0x0 matrices returns empty results") {
  const Eigh e = eigh(zeros({0, 3, 3}, DType::F64));
  CHECK(e.values.shape() == Shape{0, 3});
  CHECK(e.vectors.shape() == Shape{0, 3, 3});
  CHECK(eigh(zeros({0, 0}, DType::F32)).values.shape() == Shape{0});
}

TEST_CASE("eigh errors name the op and the shape") {
  CHECK_THROWS_WITH_AS(
      eigh(zeros({2, 3}, DType::F64)),
      "eigh: expected a square matrix (n,n) or a batch (...,n,n), got f64 (2,3) cpu",
      std::invalid_argument);
  CHECK_THROWS_AS(eigh(zeros({3}, DType::F64)), std::invalid_argument);
  CHECK_THROWS_AS(eigh(Tensor()), std::invalid_argument);
  CHECK_THROWS_WITH_AS(eigh(from_indices({1, 0, 0, 1}, {2, 2})),
                       "eigh: dtype i64 is not supported (expected f32 or f64)",
                       std::invalid_argument);
  for (double bad :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    const Tensor a = from_vector({1, bad, bad, 1}, {2, 2}, DType::F64);
    CHECK_THROWS_WITH_AS(eigh(a), "eigh: input has non-finite entries: f64 (2,2) cpu",
                         std::invalid_argument);
  }
}
