// test_em.cpp — batched EM: one step against a hand-computed case (unit, diagonal and spherical
// covariance), the log-likelihood never decreasing at any iteration, recovery of well-separated
// means, batching (per-task K and length) that changes nothing, restarts, reproducibility, errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "gmm/mixture/em.h"
#include "gmm/mixture/evaluate.h"
#include "gmm/mixture/metrics.h"

using namespace tg;
using namespace tg::gmm;

namespace {

const double kLog2Pi = std::log(2 * M_PI);

// The tiny case: d = 1, K = 2, x = (-1, 1, 3), pi = (1/2, 1/2), mu = (0, 2).
struct Tiny {
  Tensor x = from_vector({-1, 1, 3}, {1, 3, 1}, DType::F64);
  Tensor lengths = from_indices({3});
  Tensor ks = from_indices({2});
  Tensor w0 = from_vector({0.5, 0.5}, {1, 2}, DType::F64);
  Tensor m0 = from_vector({0, 2}, {1, 2, 1}, DType::F64);
};

}  // namespace

TEST_CASE("one EM step matches the hand computation (unit variance)") {
  // Responsibilities of component 0: x=-1 is at squared distances 1 and 9, so r = 1/(1+e^-4);
  // x=1 is equidistant, r = 1/2; x=3 mirrors x=-1, r = e^-4/(1+e^-4) = 1 - a.
  const double a = 1 / (1 + std::exp(-4.0));
  const double n0 = a + 0.5 + (1 - a), n1 = 3 - n0;  // 1.5 each
  const double mu0 = (-a + 0.5 + 3 * (1 - a)) / n0, mu1 = (-(1 - a) + 0.5 + 3 * a) / n1;
  auto phi = [](double z) { return std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI); };
  double ll0 = 0;  // average log-likelihood of the start
  for (double x : {-1.0, 1.0, 3.0}) ll0 += std::log(0.5 * phi(x) + 0.5 * phi(x - 2)) / 3;

  Tiny t;
  EmOptions o;
  o.max_iterations = 1;
  o.record_trace = true;
  const EmResult r = em_run(t.x, t.lengths, t.ks, t.w0, t.m0, Tensor(), o);
  CHECK(r.weights.at({0, 0}) == doctest::Approx(n0 / 3).epsilon(1e-14));
  CHECK(r.weights.at({0, 1}) == doctest::Approx(n1 / 3).epsilon(1e-14));
  CHECK(r.means.at({0, 0, 0}) == doctest::Approx(mu0).epsilon(1e-14));
  CHECK(r.means.at({0, 1, 0}) == doctest::Approx(mu1).epsilon(1e-14));
  CHECK(r.iterations.at({0}) == 1);
  CHECK(r.converged.at({0}) == 0);
  REQUIRE(r.trace.size() == 1);
  REQUIRE(r.trace[0].size() == 2);  // before the M-step, then of the returned parameters
  CHECK(r.trace[0][0] == doctest::Approx(ll0).epsilon(1e-14));
  double ll1 = 0;
  for (double x : {-1.0, 1.0, 3.0}) {
    ll1 += std::log(n0 / 3 * phi(x - mu0) + n1 / 3 * phi(x - mu1)) / 3;
  }
  CHECK(r.log_likelihood.at({0}) == doctest::Approx(ll1).epsilon(1e-14));
  CHECK(r.trace[0][1] == r.log_likelihood.at({0}));
}

TEST_CASE("one EM step matches the hand computation (diagonal covariance)") {
  const double a = 1 / (1 + std::exp(-4.0));
  const double r0[3] = {a, 0.5, 1 - a}, xs[3] = {-1, 1, 3};
  const double n0 = r0[0] + r0[1] + r0[2];
  double mu0 = 0;
  for (int i = 0; i < 3; ++i) mu0 += r0[i] * xs[i] / n0;
  double var0 = 0;
  for (int i = 0; i < 3; ++i) var0 += r0[i] * (xs[i] - mu0) * (xs[i] - mu0) / n0;
  Tiny t;
  EmOptions o;
  o.max_iterations = 1;
  o.covariance = Covariance::Diagonal;
  const EmResult r = em_run(t.x, t.lengths, t.ks, t.w0, t.m0, Tensor(), o);
  REQUIRE(r.scales.defined());
  CHECK(r.means.at({0, 0, 0}) == doctest::Approx(mu0).epsilon(1e-14));
  CHECK(r.scales.at({0, 0, 0}) == doctest::Approx(std::sqrt(var0)).epsilon(1e-13));
  // With unit starting scales the first E-step equals the unit-variance one.
  EmOptions unit = o;
  unit.covariance = Covariance::Unit;
  const EmResult u = em_run(t.x, t.lengths, t.ks, t.w0, t.m0, Tensor(), unit);
  CHECK(max_abs_diff(r.means, u.means) < 1e-14);
  CHECK(max_abs_diff(r.weights, u.weights) < 1e-14);
}

TEST_CASE("one EM step matches the hand computation (spherical covariance)") {
  // d = 2: x = (-1, 0), (1, 2), (3, 1); pi = (1/2, 1/2), mu = (0, 0), (2, 1), unit start.
  const std::vector<double> xs = {-1, 0, 1, 2, 3, 1}, mu = {0, 0, 2, 1};
  std::vector<double> r0(3);  // responsibility of component 0 (equal weights, unit variance)
  for (int n = 0; n < 3; ++n) {
    double q[2];
    for (int k = 0; k < 2; ++k) {
      q[k] = std::pow(xs[2 * n] - mu[2 * k], 2) + std::pow(xs[2 * n + 1] - mu[2 * k + 1], 2);
    }
    r0[n] = 1 / (1 + std::exp(-0.5 * (q[1] - q[0])));
  }
  double expected_var[2], expected_mean[2][2];
  for (int k = 0; k < 2; ++k) {
    double nk = 0, m[2] = {0, 0};
    for (int n = 0; n < 3; ++n) {
      const double r = k == 0 ? r0[n] : 1 - r0[n];
      nk += r;
      m[0] += r * xs[2 * n];
      m[1] += r * xs[2 * n + 1];
    }
    m[0] /= nk;
    m[1] /= nk;
    double sq = 0;
    for (int n = 0; n < 3; ++n) {
      const double r = k == 0 ? r0[n] : 1 - r0[n];
      sq += r * (std::pow(xs[2 * n] - m[0], 2) + std::pow(xs[2 * n + 1] - m[1], 2));
    }
    expected_var[k] = sq / (2 * nk);  // s_k^2 = sum r ||x - mu_k||^2 / (d sum r)
    expected_mean[k][0] = m[0];
    expected_mean[k][1] = m[1];
  }
  EmOptions o;
  o.max_iterations = 1;
  o.covariance = Covariance::Spherical;
  const EmResult r = em_run(from_vector(xs, {1, 3, 2}, DType::F64), from_indices({3}),
                            from_indices({2}), from_vector({0.5, 0.5}, {1, 2}, DType::F64),
                            from_vector(mu, {1, 2, 2}, DType::F64), Tensor(), o);
  REQUIRE(r.scales.defined());
  CHECK(r.scales.shape() == Shape{1, 2, 2});
  for (int64_t k = 0; k < 2; ++k) {
    for (int64_t c = 0; c < 2; ++c) {
      CHECK(r.means.at({0, k, c}) == doctest::Approx(expected_mean[k][c]).epsilon(1e-14));
      CHECK(r.scales.at({0, k, c}) == doctest::Approx(std::sqrt(expected_var[k])).epsilon(1e-13));
    }
  }
  // The diagonal step from the same start differs (its two coordinates get their own variances).
  o.covariance = Covariance::Diagonal;
  const EmResult diag = em_run(from_vector(xs, {1, 3, 2}, DType::F64), from_indices({3}),
                               from_indices({2}), from_vector({0.5, 0.5}, {1, 2}, DType::F64),
                               from_vector(mu, {1, 2, 2}, DType::F64), Tensor(), o);
  CHECK(max_abs_diff(diag.means, r.means) < 1e-14);
  CHECK(std::abs(diag.scales.at({0, 0, 0}) - diag.scales.at({0, 0, 1})) > 0.05);
  const double mean_square =
      (std::pow(diag.scales.at({0, 0, 0}), 2) + std::pow(diag.scales.at({0, 0, 1}), 2)) / 2;
  CHECK(mean_square == doctest::Approx(expected_var[0]).epsilon(1e-13));
}

TEST_CASE("the log-likelihood never decreases, at any iteration, in every variant") {
  TaskConfig c;
  c.ks = {2, 3, 4, 5};
  c.tasks_per_k = 16;
  c.n = 64;
  c.random_lengths = true;  // per-task lengths and K in one batch
  for (int64_t d : {2, 8}) {
    for (Shift shift : {Shift::None, Shift::Anisotropic}) {
      for (Covariance cov : {Covariance::Unit, Covariance::Spherical, Covariance::Diagonal}) {
        c.d = d;
        c.shift = shift;
        Generator gen(d * 10 + static_cast<int>(cov));
        const TaskBatch b = sample_tasks(c, gen);
        for (EmOptions o : {EmOptions::paper(), EmOptions::strong(3)}) {
          o.covariance = cov;
          o.record_trace = true;
          const EmResult r = em_fit(b, o, gen);
          REQUIRE(r.trace.size() == static_cast<size_t>(b.batch_size() * o.restarts));
          int64_t steps = 0, decreases = 0;
          for (const auto& trace : r.trace) {
            for (size_t i = 1; i < trace.size(); ++i, ++steps) {
              decreases += trace[i] < trace[i - 1] - 1e-12 * std::abs(trace[i - 1]) ? 1 : 0;
            }
          }
          CHECK(steps > 300);
          CHECK(decreases == 0);
        }
      }
    }
  }
}

TEST_CASE("EM recovers the means of a well-separated mixture from many points") {
  TaskConfig c;
  c.d = 2;
  c.ks = {3};
  c.tasks_per_k = 1;
  c.n = 20000;
  c.dtype = DType::F64;
  Generator gen(21);
  TaskBatch b = sample_tasks(c, gen);
  // Push the means far apart (the prior's can overlap) and redraw the points around them.
  const std::vector<double> mu = {-12, 0, 12, 0, 0, 12};
  const std::vector<double> labels = b.labels.to_vector();
  std::vector<double> x(20000 * 2);
  for (int64_t n = 0; n < 20000; ++n) {
    const auto z = static_cast<int64_t>(labels[n]);
    for (int64_t j = 0; j < 2; ++j) x[n * 2 + j] = mu[z * 2 + j] + gen.normal();
  }
  b.x = from_vector(x, {1, 20000, 2}, DType::F64);
  b.means = from_vector(mu, {1, 3, 2}, DType::F64);
  for (const EmOptions& o : {EmOptions::strong(), EmOptions::paper()}) {
    const EmResult r = em_fit(b, o, gen);
    Estimate e;
    e.weights = r.weights.select(0, 0);
    e.means = r.means.select(0, 0);
    const TaskMetrics m =
        task_metrics(e, task_weights(b, 0), task_means(b, 0), task_points(b, 0), task_labels(b, 0));
    REQUIRE(m.ok);
    CHECK(m.mean_error < 0.01);
    CHECK(m.weight_error < 1e-4);
    CHECK(m.accuracy > 0.999);
    CHECK(r.converged.at({0}) == 1);
  }
}

TEST_CASE("spherical EM recovers the means and each component's own variance") {
  // Three well-separated components in d = 3 with standard deviations 0.5, 1 and 2.
  const int64_t N = 20000, d = 3;
  const std::vector<double> mu = {-10, 0, 0, 10, 0, 0, 0, 15, 5}, sigma = {0.5, 1.0, 2.0};
  const std::vector<double> pi = {0.2, 0.3, 0.5};
  Generator gen(31);
  std::vector<double> x(N * d);
  for (int64_t n = 0; n < N; ++n) {
    const double u = gen.uniform();
    const int64_t z = u < pi[0] ? 0 : (u < pi[0] + pi[1] ? 1 : 2);
    for (int64_t c = 0; c < d; ++c) x[n * d + c] = mu[z * d + c] + sigma[z] * gen.normal();
  }
  EmOptions o = EmOptions::strong(5);
  o.covariance = Covariance::Spherical;
  const EmResult r = em_fit(from_vector(x, {1, N, d}, DType::F64), from_indices({N}),
                            from_indices({3}), 3, o, gen);
  CHECK(r.converged.at({0}) == 1);
  const std::vector<int64_t> match =
      match_components(r.means.select(0, 0), from_vector(mu, {3, d}, DType::F64));
  for (int64_t i = 0; i < 3; ++i) {
    const int64_t k = match[i];
    CAPTURE(k);
    CHECK(r.weights.at({0, i}) == doctest::Approx(pi[k]).epsilon(0.03));
    for (int64_t c = 0; c < d; ++c) {
      CHECK(std::abs(r.means.at({0, i, c}) - mu[k * d + c]) < 0.05);
      CHECK(r.scales.at({0, i, c}) == doctest::Approx(sigma[k]).epsilon(0.02));
    }
  }
  // The likelihood of the spherical fit beats the unit-variance one on these data.
  const EmResult unit = em_fit(from_vector(x, {1, N, d}, DType::F64), from_indices({N}),
                               from_indices({3}), 3, EmOptions::strong(5), gen);
  CHECK(r.log_likelihood.at({0}) > unit.log_likelihood.at({0}) + 0.1);
}

TEST_CASE("batching changes nothing: a task fitted in a mixed batch equals it fitted alone") {
  TaskConfig c;
  c.d = 3;
  c.ks = {2, 5};
  c.tasks_per_k = 3;
  c.n = 40;
  c.random_lengths = true;
  c.dtype = DType::F64;
  Generator gen(8);
  const TaskBatch b = sample_tasks(c, gen);
  // Start from the truth plus a fixed offset, uniform weights.
  const Tensor w0 = b.component_mask / sum(b.component_mask, {1}, true);
  const Tensor m0 = add_scalar(b.means, 0.3) * b.component_mask.unsqueeze(2);
  const EmResult all = em_run(b.x, b.lengths, b.ks, w0, m0, Tensor(), EmOptions::paper());
  for (int64_t t = 0; t < b.batch_size(); ++t) {
    const int64_t K = b.k(t);
    const EmResult one = em_run(b.x.narrow(0, t, 1), b.lengths.narrow(0, t, 1),
                                b.ks.narrow(0, t, 1), w0.narrow(0, t, 1).narrow(1, 0, K),
                                m0.narrow(0, t, 1).narrow(1, 0, K), Tensor(), EmOptions::paper());
    CHECK(max_abs_diff(one.means.select(0, 0), all.means.select(0, t).narrow(0, 0, K)) == 0.0);
    CHECK(one.log_likelihood.at({0}) == all.log_likelihood.at({t}));
    CHECK(one.iterations.at({0}) == all.iterations.at({t}));
    // Padding slots stay zero.
    for (int64_t k = K; k < 5; ++k) CHECK(all.weights.at({t, k}) == 0.0);
  }
}

TEST_CASE("restarts keep the best start; results are reproducible at any thread count") {
  TaskConfig c;
  c.d = 2;
  c.ks = {4, 5};
  c.tasks_per_k = 10;
  c.n = 64;
  Generator gen(3);
  const TaskBatch b = sample_tasks(c, gen);
  EmOptions o = EmOptions::strong(5);
  o.record_trace = true;
  set_num_threads(1);
  Generator g1(99);
  const EmResult r1 = em_fit(b, o, g1);
  set_num_threads(2);
  Generator g2(99);
  const EmResult r2 = em_fit(b, o, g2);
  CHECK(max_abs_diff(r1.means, r2.means) == 0.0);
  CHECK(max_abs_diff(r1.log_likelihood, r2.log_likelihood) == 0.0);
  for (int64_t t = 0; t < b.batch_size(); ++t) {
    double best = -1e300;
    for (int64_t r = 0; r < 5; ++r) best = std::max(best, r1.trace[t * 5 + r].back());
    CHECK(r1.log_likelihood.at({t}) == best);
    CHECK(r1.iterations.at({t}) <= 100);
  }
  // Ten restarts from k-means++ never do worse on average than one N(0, I) start.
  const EmResult paper = em_fit(b, EmOptions::paper(), g1);
  CHECK(mean(r1.log_likelihood).item() >= mean(paper.log_likelihood).item());
}

TEST_CASE("em_fit rejects malformed batches by name") {
  Generator gen(1);
  const Tensor x = zeros({2, 4, 2}, DType::F64);
  const Tensor L = from_indices({4, 4}), K = from_indices({2, 3});
  CHECK_THROWS_WITH_AS(em_fit(zeros({4, 2}), L, K, 3, EmOptions::paper(), gen),
                       doctest::Contains("em_fit: expected points x (B, N, d)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(em_fit(x, L, K, 2, EmOptions::paper(), gen),
                       doctest::Contains("task 1 has K=3"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(em_fit(x, from_indices({4, 5}), K, 3, EmOptions::paper(), gen),
                       doctest::Contains("task 1 has length 5"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(em_fit(x, from_indices({4}), K, 3, EmOptions::paper(), gen),
                       doctest::Contains("lengths and ks must be i64 (2)"), std::invalid_argument);
  Tensor bad = x.clone();
  bad.data<double>()[3] = NAN;
  CHECK_THROWS_WITH_AS(em_fit(bad, L, K, 3, EmOptions::paper(), gen),
                       doctest::Contains("non-finite"), std::invalid_argument);
}

TEST_CASE("EM on points too large for double precision fails by name instead of returning NaN") {
  // Squared distances of points near 1e200 overflow to inf, and the E-step turns them into NaN.
  Generator data(4);
  const Tensor x = randn({50, 3}, data, DType::F64) * 1e200;
  for (const char* method : {"em-paper", "em-strong"}) {
    CAPTURE(method);
    Generator gen(1);
    const Estimate e = builtin_estimator(method).fit(points_batch(x, 2), gen).at(0);
    CHECK_FALSE(e.ok);
    CHECK(e.failure.find("not finite") != std::string::npos);
  }
  Generator gen(1);  // the same points at a sane scale fit
  const Tensor sane = x * 1e-200;
  CHECK(builtin_estimator("em-strong").fit(points_batch(sane, 2), gen).at(0).ok);
}

TEST_CASE("the E-step's vectorisable exp agrees with std::exp to a few ulp on (-inf, 0]") {
  double worst = 0;
  for (double v = -708.0; v <= 0.0; v += 0.0137) {
    const double e = std::exp(v);
    worst = std::max(worst, std::abs(detail::exp_nonpositive(v) - e) / e);
  }
  for (double v : {0.0, -1e-300, -0.5 * std::log(2.0), -std::log(2.0), -1.0, -700.0}) {
    worst = std::max(worst, std::abs(detail::exp_nonpositive(v) - std::exp(v)) / std::exp(v));
  }
  CHECK(worst < 5e-16);
  CHECK(detail::exp_nonpositive(0.0) == 1.0);
  CHECK(detail::exp_nonpositive(-709.0) == 0.0);
  CHECK(detail::exp_nonpositive(-INFINITY) == 0.0);
}
