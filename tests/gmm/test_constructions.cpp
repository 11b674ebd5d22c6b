// test_constructions.cpp — the hand-built transformers of docs/theory.md
// (gmm/theory/construct_*.h), in f64: the ReLU identities and PWL units reproduce their reference
// exactly; the EM construction follows exact EM within 1e-3 over 5 steps (padded K, padded d);
// the plain power step is exact to 1e-10 relative over 6 steps; the normalised one within 1e-5
// after 8 steps; the errors fall as the knot counts grow; the layer, head and width counts are the
// documented ones.
// Letters: B tasks, N points, d dimension, K components, D width.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "gmm/mixture/em.h"
#include "gmm/mixture/tasks.h"
#include "gmm/theory/construct_em.h"
#include "gmm/theory/construct_power.h"

using namespace tg;
using namespace tg::gmm;

namespace {

// Run a one-block MLP built by `mlp` on tokens (1, T, D) and return the result (T, D) as rows.
std::vector<std::vector<double>> apply_mlp(const MlpBuilder& mlp,
                                           const std::vector<std::vector<double>>& rows) {
  const int64_t D = mlp.width(), T = static_cast<int64_t>(rows.size());
  AttentionBuilder silent(D, 1, 1);  // all-zero attention: the block is h += mlp(h)
  const auto block = make_block(silent, nn::ScoreActivation::ReluOverN, mlp, DType::F64);
  std::vector<double> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  const std::vector<double> out =
      run_blocks({block}, from_vector(flat, {1, T, D}, DType::F64)).to_vector();
  std::vector<std::vector<double>> result;
  for (int64_t t = 0; t < T; ++t)
    result.emplace_back(out.begin() + t * D, out.begin() + (t + 1) * D);
  return result;
}

// Tasks (d, K, N) from the prior and a start: uniform weights, means = K random points.
struct EmProblem {
  TaskBatch batch;
  MixtureEstimate start;
};

EmProblem em_problem(int64_t d, int64_t k, int64_t n, int64_t tasks, uint64_t seed) {
  Generator gen(seed);
  TaskConfig config;
  config.d = d;
  config.ks = {k};
  config.tasks_per_k = tasks;
  config.n = n;
  config.dtype = DType::F64;
  EmProblem p{sample_tasks(config, gen), {}};
  p.start = {full({tasks, k}, 1.0 / static_cast<double>(k), DType::F64),
             zeros({tasks, k, d}, DType::F64)};
  for (int64_t b = 0; b < tasks; ++b) {
    for (int64_t c = 0; c < k; ++c) {
      const int64_t i = (c * 37 + b * 11 + 5) % n;  // distinct for k <= 5 and n >= 32
      for (int64_t t = 0; t < d; ++t) {
        p.start.means.data<double>()[(b * k + c) * d + t] = p.batch.x.at({b, i, t});
      }
    }
  }
  return p;
}

// Worst |mu_TF - mu_EM| and |pi_TF - pi_EM| over `steps` steps.
std::pair<double, double> em_errors(const EmTransformer& tf, const EmProblem& p, int64_t steps) {
  const int64_t d = p.batch.d(), k = p.start.weights.size(1);
  Tensor tokens = tf.embed(p.batch.x, p.start);
  MixtureEstimate reference = p.start;
  double mu = 0.0, pi = 0.0;
  for (int64_t s = 0; s < steps; ++s) {
    tokens = tf.step(tokens);
    reference = em_reference_step(p.batch.x, reference);
    const MixtureEstimate got = tf.read(tokens, d, k);
    mu = std::max(mu, max_abs_diff(got.means, reference.means));
    pi = std::max(pi, max_abs_diff(got.weights, reference.weights));
  }
  return {mu, pi};
}

// sum_k lambda_k u_k^(x)3 (u_k = the axes rotated by a fixed orthogonal matrix) + noise: (1,d,d,d).
Tensor power_tensor(int64_t d, uint64_t seed) {
  Generator gen(seed);
  std::vector<std::vector<double>> u;
  for (int64_t k = 0; k < d; ++k) {
    std::vector<double> v(static_cast<size_t>(d));
    for (double& x : v) x = gen.normal();
    for (const auto& p : u) {
      double dot = 0.0;
      for (int64_t i = 0; i < d; ++i) dot += v[i] * p[i];
      for (int64_t i = 0; i < d; ++i) v[i] -= dot * p[i];
    }
    double norm = 0.0;
    for (double x : v) norm += x * x;
    for (double& x : v) x /= std::sqrt(norm);
    u.push_back(v);
  }
  Tensor t = zeros({1, d, d, d}, DType::F64);
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      for (int64_t m = 0; m < d; ++m) {
        double value = 0.05 * gen.normal();
        for (int64_t k = 0; k < d; ++k) value += (1.0 + 0.2 * k) * u[k][i] * u[k][j] * u[k][m];
        t.data<double>()[(i * d + j) * d + m] = value;
      }
    }
  }
  return t;
}

double relative_error(const Tensor& got, const Tensor& want) {
  const Tensor diff = got.reshape({-1}) - want.reshape({-1});
  return std::sqrt(sum(diff * diff).item() / sum(want * want).item());
}

// Worst relative error over `starts` (S, d) after each of `steps` steps; returns the per-step list.
std::vector<double> power_errors(const PowerTransformer& tf, const Tensor& t, const Tensor& starts,
                                 int64_t steps, bool normalized) {
  const int64_t d = tf.layout().d, S = starts.size(0);
  Tensor tokens = tf.embed(t.expand({S, d, d, d}).contiguous(), starts);
  std::vector<Tensor> v;
  for (int64_t b = 0; b < S; ++b) v.push_back(starts.select(0, b).contiguous());
  std::vector<double> errors;
  const Tensor t3 = t.reshape({d, d, d});
  for (int64_t s = 0; s < steps; ++s) {
    tokens = normalized ? tf.normalized_step(tokens) : tf.step(tokens);
    const Tensor got = tf.read(tokens), copy = tf.read_copy(tokens);
    double worst = 0.0;
    for (int64_t b = 0; b < S; ++b) {
      v[b] =
          normalized ? power_reference_normalized_step(t3, v[b]) : power_reference_step(t3, v[b]);
      worst = std::max(
          {worst, relative_error(got.select(0, b), v[b]), relative_error(copy.select(0, b), v[b])});
    }
    errors.push_back(worst);
  }
  return errors;
}

Tensor random_starts(int64_t S, int64_t d, double norm, uint64_t seed) {
  Generator gen(seed);
  Tensor v = randn({S, d}, gen, DType::F64);
  return v * norm / tg::sqrt(sum(v * v, {1}, true));  // (S, d), each row of length `norm`
}

}  // namespace

TEST_CASE("construct: gates copy exactly and PWL units reproduce their interpolant") {
  // Slots: 0 z, 1 not-gate, 2 gate, 3 out (gated copy), 4 out (PWL log), 5 out (even z^2),
  // 6 out (ungated PWL).
  MlpBuilder mlp(7);
  const PiecewiseLinear log =
      interpolate([](double z) { return std::log(z); }, sqrt_knots(1e-6, 1.0, 40));
  const PiecewiseLinear sq =
      interpolate([](double z) { return z * z; }, uniform_knots(0.0, 4.0, 16));
  mlp.add_gated_linear(0, 3, 1.0, 1, 1e6);
  mlp.add_pwl(0, 4, 1.0, log, 2, 1, 1e6);
  mlp.add_even_pwl(0, 5, 1.0, sq, 1, 1e6);
  mlp.add_pwl(0, 6, 2.0, log);
  std::vector<std::vector<double>> rows;
  for (double z : {0.0, 1e-8, 3.3e-4, 0.0123, 0.5, 0.999, 1.0}) {
    for (double g : {0.0, 1.0}) rows.push_back({z, 1.0 - g, g, 0, 0, 0, 0});
  }
  for (double z : {-3.7, -0.25, 2.9, 5.0}) rows.push_back({z, 0.0, 1.0, 0, 0, 0, 0});
  const auto out = apply_mlp(mlp, rows);
  for (size_t r = 0; r < rows.size(); ++r) {
    const double z = rows[r][0], g = rows[r][2];
    CAPTURE(z);
    CAPTURE(g);
    CHECK(out[r][3] == g * z);  // bit-exact: the complement gate adds exact zeros
    if (z >= 0.0) {
      CHECK(out[r][4] == doctest::Approx(g * log.evaluate(z)).epsilon(1e-12));
      CHECK(out[r][6] == doctest::Approx(2.0 * log.evaluate(z)).epsilon(1e-12));
    }
    // Beyond b_T = 4 the even PWL continues with its last slope (z^2 keeps growing).
    const double q = std::abs(z) <= 4.0 ? sq.evaluate(std::abs(z))
                                        : sq.values.back() + sq.slope(15) * (std::abs(z) - 4.0);
    CHECK(out[r][5] == doctest::Approx(g * q).epsilon(1e-12));
    if (z == 0.0) CHECK(out[r][5] == 0.0);  // padded coordinates contribute exactly 0
  }
  CHECK(log.evaluate(1e-9) == log.evaluate(1e-6));  // log(max(z, eps))
}

TEST_CASE("construct: the reference EM step agrees with em_run") {
  const EmProblem p = em_problem(3, 3, 64, 2, 7);
  const MixtureEstimate mine = em_reference_step(p.batch.x, p.start);
  EmOptions options;
  options.max_iterations = 1;
  options.tolerance = -1.0;
  const EmResult theirs = em_run(p.batch.x, p.batch.lengths, p.batch.ks, p.start.weights,
                                 p.start.means, Tensor(), options);
  CHECK(max_abs_diff(mine.weights, theirs.weights) < 1e-12);
  CHECK(max_abs_diff(mine.means, theirs.means) < 1e-12);
}

TEST_CASE("construct: EM transformer follows exact EM within 1e-3 over 5 steps") {
  const EmTransformer tf;  // d0 = 8, K0 = 5
  SUBCASE("N = 128, d = 8, K = 4 padded into K0 = 5") {
    const auto [mu, pi] = em_errors(tf, em_problem(8, 4, 128, 2, 1), 5);
    CHECK(mu < 1e-3);
    CHECK(pi < 1e-3);
  }
  SUBCASE("padded d: d = 5 in d0 = 8, K = 3") {
    const auto [mu, pi] = em_errors(tf, em_problem(5, 3, 128, 2, 2), 5);
    CHECK(mu < 1e-3);
    CHECK(pi < 1e-3);
  }
}

TEST_CASE("construct: EM error decreases as the knot count grows") {
  const EmProblem p = em_problem(8, 4, 128, 1, 3);
  std::vector<double> errors;
  for (int64_t knots : {25, 100, 400}) {
    errors.push_back(
        em_errors(EmTransformer(EmConstructionOptions{}.with_knots(knots)), p, 3).first);
  }
  CHECK(errors[1] < errors[0]);
  CHECK(errors[2] < errors[1]);
}

TEST_CASE("construct: plain power step is exact, normalised within 1e-5") {
  for (int64_t d : {3, 5}) {
    CAPTURE(d);
    const Tensor t = power_tensor(d, 10 + d);
    PowerConstructionOptions o;
    o.d = d;
    const PowerTransformer tf(o);
    const std::vector<double> plain = power_errors(tf, t, random_starts(4, d, 1.2, d), 6, false);
    CHECK(*std::max_element(plain.begin(), plain.end()) < 1e-10);
    for (PowerHeads heads : {PowerHeads::Signed, PowerHeads::Shifted}) {
      o.heads = heads;
      const PowerTransformer normalized(o);
      CHECK(power_errors(normalized, t, random_starts(4, d, 1.0, 20 + d), 8, true).back() < 1e-5);
    }
  }
}

TEST_CASE("construct: normalised power error decreases as the knot count grows") {
  const Tensor t = power_tensor(4, 99);
  const Tensor starts = random_starts(8, 4, 1.0, 98);
  std::vector<double> errors;
  for (int64_t knots : {50, 400, 3200}) {
    PowerConstructionOptions o;
    o.d = 4;
    o.isqrt_knots = knots;
    const std::vector<double> e = power_errors(PowerTransformer(o), t, starts, 4, true);
    errors.push_back(*std::max_element(e.begin(), e.end()));
  }
  CHECK(errors[1] < errors[0]);
  CHECK(errors[2] < errors[1]);
}

TEST_CASE("construct: layer, head and width counts are the documented ones") {
  const EmTransformer em;  // d0 = 8, K0 = 5
  const ConstructionSize s = em.size(5);
  CHECK(s.layers == 10);  // 2 blocks per step
  CHECK(s.heads == 15);   // 3 softmax heads per step
  CHECK(s.width == 3 * 8 + 5 * 5 + 7);
  CHECK(em.block_e().attn().options().n_head == 1);
  CHECK(em.block_m().attn().options().n_head == 2);
  const int64_t tl = em.options().log_knots, ts = em.options().square_knots;
  CHECK(em.block_e().mlp().options().hidden == 5 * (tl + 4));
  CHECK(em.block_m().mlp().options().hidden == 3 + 8 * (2 * ts + 6) + 5 * (tl + 5));

  for (int64_t d : {2, 6}) {
    PowerConstructionOptions o;
    o.d = d;
    const PowerTransformer signed_heads(o);
    CHECK(signed_heads.plain_size(1).layers == 1);
    CHECK(signed_heads.plain_size(1).heads == 2 * d);
    CHECK(signed_heads.plain_size(1).width == d * d + 5 * d + 5);
    CHECK(signed_heads.normalized_size(1).layers == 3);
    CHECK(signed_heads.normalized_size(1).heads == 2 * d + 3);
    o.heads = PowerHeads::Shifted;
    CHECK(PowerTransformer(o).plain_size(1).heads == d + 1);
  }
}

TEST_CASE("construct: the constructions run in f32 through the same modules") {
  EmConstructionOptions o;
  o.dtype = DType::F32;
  const EmTransformer em(o);
  CHECK(em.block_m().attn().c_attn().weight().dtype() == DType::F32);
  const auto [mu, pi] = em_errors(em, em_problem(4, 3, 64, 1, 4), 3);
  CHECK(mu < 1e-3);
  CHECK(pi < 1e-3);
  PowerConstructionOptions p;
  p.d = 4;
  p.dtype = DType::F32;
  const Tensor t = power_tensor(4, 5);
  CHECK(power_errors(PowerTransformer(p), t, random_starts(2, 4, 1.0, 6), 8, true).back() < 1e-4);
}
