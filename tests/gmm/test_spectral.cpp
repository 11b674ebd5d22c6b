// test_spectral.cpp — the spectral baseline: each step on hand-computed cases, the power method
// on an exactly orthogonally decomposable tensor, recovery of a well-separated mixture with
// d > K and large N, and failure reports (never NaN, never a crash) where the method cannot run.
// Letters: N points, d coordinates, K components.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "gmm/mixture/spectral.h"
#include "tensor/linalg.h"

using namespace tg;
using namespace tg::gmm;

namespace {

// N points from sum_k pi_k N(mu_k, I): weights (K), means (K,d) f64. Returns (N,d) f64.
Tensor sample_mixture(const std::vector<double>& weights, const Tensor& means, int64_t N,
                      Generator& gen) {
  const int64_t K = means.size(0), d = means.size(1);
  Tensor x({N, d}, DType::F64);
  double* px = x.data<double>();
  const double* mu = means.data<double>();
  for (int64_t n = 0; n < N; ++n) {
    double u = gen.uniform();
    int64_t z = 0;
    while (z + 1 < K && u >= weights[z]) u -= weights[z++];
    for (int64_t j = 0; j < d; ++j) px[n * d + j] = mu[z * d + j] + gen.normal();
  }
  return x;
}

// min over permutations p of (1/(K d)) sum_k ||estimate_{p(k)} - truth_k||^2, and that p.
double matched_mean_error(const Tensor& estimate, const Tensor& truth, std::vector<int64_t>& best) {
  const int64_t K = truth.size(0), d = truth.size(1);
  std::vector<int64_t> p(K);
  std::iota(p.begin(), p.end(), 0);
  double best_error = std::numeric_limits<double>::infinity();
  do {
    double error = 0.0;
    for (int64_t k = 0; k < K; ++k) {
      for (int64_t j = 0; j < d; ++j) {
        const double diff = estimate.at({p[k], j}) - truth.at({k, j});
        error += diff * diff;
      }
    }
    error /= static_cast<double>(K * d);
    if (error < best_error) {
      best_error = error;
      best = p;
    }
  } while (std::next_permutation(p.begin(), p.end()));
  return best_error;
}

// sum_i lambda_i v_i(x)v_i(x)v_i with v_i the columns of vectors (K,K).
Tensor odeco_tensor(const std::vector<double>& lambdas, const Tensor& vectors) {
  const int64_t K = vectors.size(0);
  Tensor t = zeros({K, K, K}, DType::F64);
  double* pt = t.data<double>();
  for (int64_t c = 0; c < K; ++c) {
    for (int64_t i = 0; i < K; ++i) {
      for (int64_t j = 0; j < K; ++j) {
        for (int64_t m = 0; m < K; ++m) {
          pt[(i * K + j) * K + m] +=
              lambdas[c] * vectors.at({i, c}) * vectors.at({j, c}) * vectors.at({m, c});
        }
      }
    }
  }
  return t;
}

// A random orthonormal K x K matrix: the eigenvectors of a random symmetric matrix.
Tensor random_orthonormal(int64_t K, Generator& gen) {
  const Tensor g = randn({K, K}, gen, DType::F64);
  return eigh(g + g.transpose(0, 1)).vectors;
}

void check_failed(const SpectralFit& fit, const std::string& reason_part) {
  CHECK_FALSE(fit.ok);
  CHECK_MESSAGE(fit.failure.find(reason_part) != std::string::npos, fit.failure);
  CHECK_FALSE(fit.weights.defined());
  CHECK_FALSE(fit.means.defined());
}

}  // namespace

TEST_CASE("spectral tensor_apply and tensor_value on a hand-computed 2x2x2 tensor") {
  // T[i][j][m] = 4i + 2j + m + 1 (entries 1..8), v = (1, 2).
  const Tensor t = from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2}, DType::F64);
  const Tensor v = from_vector({1, 2}, {2}, DType::F64);
  // v_j v_m = [[1,2],[2,4]];  i = 0: 1 + 4 + 6 + 16 = 27;  i = 1: 5 + 12 + 14 + 32 = 63.
  CHECK(max_abs_diff(tensor_apply(t, v), from_vector({27, 63}, {2}, DType::F64)) == 0.0);
  CHECK(tensor_value(t, v) == 27.0 + 2.0 * 63.0);
  CHECK_THROWS_AS(tensor_apply(t, from_vector({1, 2, 3}, {3}, DType::F64)), std::invalid_argument);
  CHECK_THROWS_AS(tensor_apply(zeros({2, 2, 3}, DType::F64), v), std::invalid_argument);
}

TEST_CASE("spectral power method recovers an orthogonally decomposable tensor exactly") {
  Generator gen(5);
  const int64_t K = 4;
  const std::vector<double> lambdas = {3.0, 1.0, 2.0, 1.5};
  const Tensor vectors = random_orthonormal(K, gen);  // (K,K), v_c in column c
  const Tensor t = odeco_tensor(lambdas, vectors);
  for (int64_t c = 0; c < K; ++c) {  // each v_c is a fixed point: T(I,v,v) = lambda v
    const Tensor v = vectors.select(1, c).contiguous();
    CHECK(max_abs_diff(tensor_apply(t, v), v * lambdas[c]) < 1e-12);
  }
  const TensorEigenpairs pairs = tensor_power_iteration(t, gen);
  REQUIRE(pairs.values.shape() == Shape{K});
  REQUIRE(pairs.vectors.shape() == Shape{K, K});
  std::vector<bool> found(K, false);
  for (int64_t c = 0; c < K; ++c) {
    const Tensor v = pairs.vectors.select(1, c).contiguous();
    // The true component it matches: the largest overlap.
    int64_t match = 0;
    double overlap = -1.0;
    for (int64_t i = 0; i < K; ++i) {
      const double o = sum(v * vectors.select(1, i)).item();
      if (o > overlap) {
        overlap = o;
        match = i;
      }
    }
    CHECK_FALSE(found[match]);
    found[match] = true;
    CHECK(std::abs(pairs.values.at({c}) - lambdas[match]) < 1e-10);
    CHECK(max_abs_diff(v, vectors.select(1, match)) < 1e-8);  // sign included
  }
  // Robust starts find the largest lambda first.
  CHECK(pairs.values.at({0}) == doctest::Approx(3.0).epsilon(1e-10));
  // Same generator state, same result.
  Generator a(9), b(9);
  CHECK(max_abs_diff(tensor_power_iteration(t, a).vectors, tensor_power_iteration(t, b).vectors) ==
        0.0);
  SpectralOptions bad;
  bad.restarts = 0;
  CHECK_THROWS_AS(tensor_power_iteration(t, gen, bad), std::invalid_argument);
}

TEST_CASE("spectral moments, whitening and T on a hand-computed 2-D case") {
  // Points (4,1), (4,-1), (0,1), (0,-1): m = (2,0), C = diag(4,1), so sigma^2 = 1 with v = e_2;
  // M1 = mean x * 1 = (2,0); E[x x^T] = diag(8,1), M2 = diag(7,0).
  // K = 1: S = 7, V = e_1, W = e_1/sqrt(7), B = sqrt(7) e_1; y_n = 4/sqrt(7) twice, 0 twice;
  // T = mean y^3 - 3 a G = 32/7^1.5 - 3 (2/sqrt(7)) (1/7) = 26/7^1.5 (signs follow V's).
  // Then lambda = 26/7^1.5, mu = lambda B v = 26/7 e_1, pi = 1.
  const Tensor x = from_vector({4, 1, 4, -1, 0, 1, 0, -1}, {4, 2}, DType::F64);
  const SpectralMoments m = spectral_moments(x);
  CHECK(max_abs_diff(m.mean, from_vector({2, 0}, {2}, DType::F64)) < 1e-15);
  CHECK(m.sigma2 == doctest::Approx(1.0).epsilon(1e-14));
  CHECK(std::abs(m.direction.at({0})) < 1e-15);
  CHECK(std::abs(m.direction.at({1})) == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(max_abs_diff(m.m1, from_vector({2, 0}, {2}, DType::F64)) < 1e-14);
  CHECK(max_abs_diff(m.m2, from_vector({7, 0, 0, 0}, {2, 2}, DType::F64)) < 1e-14);

  const Whitening white = spectral_whitening(m.m2, 1);
  REQUIRE(white.failure.empty());
  CHECK(white.eigenvalues.at({0}) == doctest::Approx(7.0).epsilon(1e-14));
  const double sign = white.w.at({0, 0}) > 0 ? 1.0 : -1.0;
  CHECK(max_abs_diff(white.w, from_vector({sign / std::sqrt(7.0), 0}, {2, 1}, DType::F64)) < 1e-15);
  CHECK(max_abs_diff(white.b, from_vector({sign * std::sqrt(7.0), 0}, {2, 1}, DType::F64)) < 1e-14);
  // W^T M2 W = I_K
  CHECK(matmul(matmul(white.w.transpose(0, 1), m.m2), white.w).item() == doctest::Approx(1.0));

  const Tensor t = whitened_third_moment(x, white.w, m.m1);
  REQUIRE(t.shape() == Shape{1, 1, 1});
  CHECK(t.item() == doctest::Approx(sign * 26.0 / std::pow(7.0, 1.5)).epsilon(1e-14));

  Generator gen(1);
  const SpectralFit fit = spectral_fit(x, 1, gen);
  REQUIRE(fit.ok);
  CHECK(fit.weights.at({0}) == 1.0);
  CHECK(max_abs_diff(fit.means, from_vector({26.0 / 7.0, 0}, {1, 2}, DType::F64)) < 1e-13);
}

TEST_CASE("spectral whitening turns the population M2 of a mixture into the identity") {
  // M2 = sum_k pi_k mu_k mu_k^T exactly (d = 5, K = 3): W^T M2 W = I and B W^T = the projection
  // onto the means' span, so B W^T mu_k = mu_k.
  Generator gen(2);
  const Tensor means = randn({3, 5}, gen, DType::F64);  // (K,d)
  const Tensor pi = from_vector({0.2, 0.3, 0.5}, {3}, DType::F64);
  const Tensor m2 = matmul(means.transpose(0, 1) * pi.unsqueeze(0), means);  // (d,d)
  const Whitening white = spectral_whitening(m2, 3);
  REQUIRE(white.failure.empty());
  const Tensor identity = from_vector({1, 0, 0, 0, 1, 0, 0, 0, 1}, {3, 3}, DType::F64);
  CHECK(max_abs_diff(matmul(matmul(white.w.transpose(0, 1), m2), white.w), identity) < 1e-12);
  const Tensor projected = matmul(matmul(means, white.w), white.b.transpose(0, 1));  // (K,d)
  CHECK(max_abs_diff(projected, means) < 1e-12);
  // Asking for a 4th component finds M2's zero eigenvalue and reports it.
  const Whitening too_many = spectral_whitening(m2, 4);
  CHECK(too_many.failure.find("eigenvalue 4 of M2") != std::string::npos);
  CHECK_FALSE(too_many.w.defined());
}

TEST_CASE("spectral recovers the means and weights of a well-separated mixture (d=8, K=3)") {
  Generator gen(2024);
  const int64_t K = 3, d = 8, N = 20000;
  const std::vector<double> weights = {0.2, 0.3, 0.5};
  const Tensor means = rand({K, d}, gen, DType::F64, -5.0, 5.0);  // (K,d)
  const Tensor x = sample_mixture(weights, means, N, gen);
  const SpectralFit fit = spectral_fit(x, K, gen);
  REQUIRE_MESSAGE(fit.ok, fit.failure);
  REQUIRE(fit.weights.shape() == Shape{K});
  REQUIRE(fit.means.shape() == Shape{K, d});
  CHECK(fit.weights.dtype() == DType::F64);
  CHECK(sum(fit.weights).item() == doctest::Approx(1.0).epsilon(1e-12));
  for (int64_t k = 0; k + 1 < K; ++k) CHECK(fit.weights.at({k}) <= fit.weights.at({k + 1}));
  std::vector<int64_t> match;
  const double mean_error = matched_mean_error(fit.means, means, match);
  MESSAGE("spectral mean error (d=8, K=3, N=20000): " << mean_error);
  CHECK(mean_error < 0.05);
  for (int64_t k = 0; k < K; ++k) CHECK(std::abs(fit.weights.at({match[k]}) - weights[k]) < 0.05);
  // f32 points give the same answer up to f32 rounding of the input.
  Generator g1(3), g2(3);
  const SpectralFit f64_fit = spectral_fit(x, K, g1);
  const SpectralFit f32_fit = spectral_fit(x.to(DType::F32), K, g2);
  REQUIRE(f32_fit.ok);
  CHECK(max_abs_diff(f32_fit.means, f64_fit.means) < 1e-3);
}

TEST_CASE("spectral reports failure when K >= d") {
  Generator gen(4);
  const Tensor x = randn({200, 3}, gen, DType::F64);
  check_failed(spectral_fit(x, 3, gen), "needs K < d");
  check_failed(spectral_fit(randn({200, 2}, gen, DType::F64), 4, gen), "got K = 4, d = 2");
}

TEST_CASE("spectral reports failure on degenerate data, never NaN") {
  Generator gen(6);
  // All points identical: M2 has rank 1, so the 2nd of K = 2 eigenvalues is zero.
  const Tensor same = from_vector({1.0, 2.0, 3.0}, {1, 3}, DType::F64).expand({50, 3});
  check_failed(spectral_fit(same, 2, gen), "eigenvalue 2 of M2");
  check_failed(spectral_fit(zeros({50, 4}, DType::F64), 1, gen), "eigenvalue 1 of M2");
  Tensor bad = randn({50, 4}, gen, DType::F64);
  bad.data<double>()[7] = std::numeric_limits<double>::quiet_NaN();
  check_failed(spectral_fit(bad, 2, gen), "non-finite");
  check_failed(
      spectral_fit(full({50, 4}, 1e200, DType::F64) + randn({50, 4}, gen, DType::F64), 2, gen),
      "not finite");
}

TEST_CASE("spectral on many small tasks: finite estimates or a stated failure") {
  Generator gen(8);
  int failures = 0;
  for (int task = 0; task < 200; ++task) {
    const int64_t K = 1 + task % 5, d = 2 + task % 7, N = 8 + task % 40;
    std::vector<double> weights(K, 1.0 / static_cast<double>(K));
    const Tensor x = sample_mixture(weights, rand({K, d}, gen, DType::F64, -5, 5), N, gen);
    const SpectralFit fit = spectral_fit(x, K, gen);
    if (fit.ok) {
      CHECK(all_finite(fit.weights));
      CHECK(all_finite(fit.means));
      CHECK(sum(fit.weights).item() == doctest::Approx(1.0));
    } else {
      ++failures;
      CHECK_FALSE(fit.failure.empty());
      CHECK_FALSE(fit.weights.defined());
    }
  }
  MESSAGE("spectral failures on 200 small tasks: " << failures);
  CHECK(failures < 200);
}

TEST_CASE("spectral argument errors throw") {
  Generator gen(1);
  CHECK_THROWS_AS(spectral_fit(zeros({5}, DType::F64), 1, gen), std::invalid_argument);
  CHECK_THROWS_AS(spectral_fit(zeros({5, 3}, DType::F64), 0, gen), std::invalid_argument);
  CHECK_THROWS_AS(spectral_fit(zeros({0, 3}, DType::F64), 1, gen), std::invalid_argument);
  CHECK_THROWS_AS(spectral_whitening(zeros({3, 2}, DType::F64), 1), std::invalid_argument);
  CHECK_THROWS_AS(whitened_third_moment(zeros({5, 3}, DType::F64), zeros({2, 1}, DType::F64),
                                        zeros({3}, DType::F64)),
                  std::invalid_argument);
}
