// test_tasks.cpp — the task sampler: batch layout, reproducibility, the prior's statistics
// (sorted weights, cosine filter, label frequencies), training lengths and the shift variants,
// and drawing a block of a batch's positions (a data-parallel process's share).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "gmm/mixture/tasks.h"

using namespace tg;
using namespace tg::gmm;

namespace {

double cosine(const std::vector<double>& mu, int64_t i, int64_t j, int64_t d) {
  double dot = 0, ni = 0, nj = 0;
  for (int64_t c = 0; c < d; ++c) {
    dot += mu[i * d + c] * mu[j * d + c];
    ni += mu[i * d + c] * mu[i * d + c];
    nj += mu[j * d + c] * mu[j * d + c];
  }
  return dot / std::sqrt(ni * nj);
}

// Not inlined: g++ 12 -O3 otherwise warns (falsely) that TaskConfig's default ks list "may be
// used uninitialized" inside the CHECK_THROWS macros.
[[gnu::noinline]] TaskConfig config(int64_t d, std::vector<int64_t> ks, int64_t per_k, int64_t n) {
  TaskConfig c;
  c.d = d;
  c.ks = std::move(ks);
  c.tasks_per_k = per_k;
  c.n = n;
  c.dtype = DType::F64;
  return c;
}

}  // namespace

TEST_CASE("sample_tasks lays out a padded multi-K batch with shapes, dtypes and masks") {
  TaskConfig c = config(3, {2, 4}, 5, 16);
  c.dtype = DType::F32;
  Generator gen(1);
  const TaskBatch b = sample_tasks(c, gen);
  CHECK(b.x.shape() == Shape{10, 16, 3});
  CHECK(b.lengths.shape() == Shape{10});
  CHECK(b.weights.shape() == Shape{10, 4});
  CHECK(b.means.shape() == Shape{10, 4, 3});
  CHECK(b.component_mask.shape() == Shape{10, 4});
  CHECK(b.ks.shape() == Shape{10});
  CHECK(b.labels.shape() == Shape{10, 16});
  CHECK_FALSE(b.scales.defined());
  CHECK(b.x.dtype() == DType::F32);
  CHECK(b.weights.dtype() == DType::F32);
  CHECK(b.component_mask.dtype() == DType::F32);
  CHECK(b.lengths.dtype() == DType::I64);
  CHECK(b.labels.dtype() == DType::I64);
  for (int64_t t = 0; t < 10; ++t) {
    const int64_t K = t < 5 ? 2 : 4;  // grouped by K in list order
    CHECK(b.k(t) == K);
    CHECK(b.length(t) == 16);  // evaluation: full length
    for (int64_t k = 0; k < 4; ++k) {
      CHECK(b.component_mask.at({t, k}) == (k < K ? 1.0 : 0.0));
      if (k >= K) {
        CHECK(b.weights.at({t, k}) == 0.0);
        CHECK(b.means.at({t, k, 0}) == 0.0);
      }
    }
    for (int64_t n = 0; n < 16; ++n) {
      const double z = b.labels.at({t, n});
      CHECK(z >= 0);
      CHECK(z < K);
    }
  }
}

TEST_CASE("sample_tasks is reproducible: same seed same batch, any thread count") {
  TaskConfig c = config(2, {2, 3, 5}, 4, 32);
  c.random_lengths = true;
  set_num_threads(1);
  Generator g1(7);
  const TaskBatch a = sample_tasks(c, g1);
  set_num_threads(2);
  Generator g2(7);
  const TaskBatch b = sample_tasks(c, g2);
  CHECK(max_abs_diff(a.x, b.x) == 0.0);
  CHECK(max_abs_diff(a.means, b.means) == 0.0);
  CHECK(max_abs_diff(a.weights, b.weights) == 0.0);
  CHECK(a.lengths.to_vector() == b.lengths.to_vector());
  CHECK(a.labels.to_vector() == b.labels.to_vector());
  Generator g3(8);
  CHECK(max_abs_diff(a.x, sample_tasks(c, g3).x) > 0.0);
  // The f32 batch is the f64 batch rounded.
  c.dtype = DType::F32;
  Generator g4(7);
  const TaskBatch f = sample_tasks(c, g4);
  CHECK(max_abs_diff(f.x.to(DType::F64), a.x) < 1e-5);
}

TEST_CASE("the prior: weights sorted and normalised, means in the box with cosine < 0.8") {
  for (int64_t d : {2, 8}) {
    Generator gen(11);
    const TaskBatch b = sample_tasks(config(d, {2, 3, 4, 5}, 50, 8), gen);
    for (int64_t t = 0; t < b.batch_size(); ++t) {
      const std::vector<double> w = task_weights(b, t).to_vector();
      const std::vector<double> mu = task_means(b, t).to_vector();
      const int64_t K = b.k(t);
      double total = 0;
      for (double v : w) total += v;
      CHECK(total == doctest::Approx(1.0).epsilon(1e-12));
      CHECK(std::is_sorted(w.begin(), w.end()));
      // u in [0.2, 0.8): every weight ratio is below 4.
      CHECK(w.back() / w.front() < 4.0);
      for (double m : mu) CHECK(std::abs(m) <= 5.0);
      for (int64_t i = 0; i < K; ++i) {
        for (int64_t j = i + 1; j < K; ++j) CHECK(cosine(mu, i, j, d) < 0.8);
      }
    }
  }
}

TEST_CASE("label frequencies follow the weights and points scatter around their means") {
  TaskConfig c = config(2, {4}, 1, 40000);
  Generator gen(3);
  const TaskBatch b = sample_tasks(c, gen);
  const std::vector<double> w = task_weights(b, 0).to_vector();
  const std::vector<double> mu = task_means(b, 0).to_vector();
  const std::vector<double> labels = task_labels(b, 0).to_vector();
  const std::vector<double> x = task_points(b, 0).contiguous().to_vector();
  const double N = 40000;
  std::vector<double> count(4, 0), sum(8, 0), sq(8, 0);
  for (size_t n = 0; n < labels.size(); ++n) {
    const auto z = static_cast<int64_t>(labels[n]);
    count[z] += 1;
    for (int64_t c2 = 0; c2 < 2; ++c2) {
      const double r = x[n * 2 + c2] - mu[z * 2 + c2];
      sum[z * 2 + c2] += r;
      sq[z * 2 + c2] += r * r;
    }
  }
  for (int64_t k = 0; k < 4; ++k) {
    const double sd = std::sqrt(w[k] * (1 - w[k]) / N);
    CHECK(std::abs(count[k] / N - w[k]) < 5 * sd);
    for (int64_t c2 = 0; c2 < 2; ++c2) {
      CHECK(std::abs(sum[k * 2 + c2] / count[k]) < 5 / std::sqrt(count[k]));   // noise mean 0
      CHECK(sq[k * 2 + c2] / count[k] == doctest::Approx(1.0).epsilon(0.05));  // variance 1
    }
  }
}

TEST_CASE("training lengths lie in floor(N/2)..N with padding zeroed, labelled -1 and masked") {
  TaskConfig c = config(3, {2, 5}, 100, 33);
  c.random_lengths = true;
  Generator gen(5);
  const TaskBatch b = sample_tasks(c, gen);
  const Tensor valid = b.valid_mask(DType::F64);  // (B, N): 1 exactly where n < L
  CHECK(valid.shape() == Shape{b.batch_size(), 33});
  CHECK(valid.dtype() == DType::F64);
  int64_t shortest = 33, longest = 0;
  for (int64_t t = 0; t < b.batch_size(); ++t) {
    const int64_t L = b.length(t);
    shortest = std::min(shortest, L);
    longest = std::max(longest, L);
    for (int64_t n = 0; n < 33; ++n) {
      if (n < L) {
        CHECK(b.labels.at({t, n}) >= 0);
        CHECK(valid.at({t, n}) == 1.0);
      } else {
        CHECK(b.labels.at({t, n}) == -1);
        CHECK(b.x.at({t, n, 0}) == 0.0);
        CHECK(valid.at({t, n}) == 0.0);
      }
    }
  }
  CHECK(shortest == 16);  // both ends of U{16..33} are reached in 200 draws
  CHECK(longest == 33);
}

TEST_CASE("shift variants: perturbed means, anisotropic scales, phase transition") {
  SUBCASE("mean perturbation spreads the means beyond the box and keeps the cosine filter") {
    TaskConfig c = config(2, {3}, 100, 4);
    c.shift = Shift::MeanPerturbation;
    c.perturbation_std = 10.0;
    Generator gen(2);
    const TaskBatch b = sample_tasks(c, gen);
    double largest = 0;
    for (double m : b.means.to_vector()) largest = std::max(largest, std::abs(m));
    CHECK(largest > 15.0);
    for (int64_t t = 0; t < 100; ++t) {
      const std::vector<double> mu = task_means(b, t).to_vector();
      CHECK(cosine(mu, 0, 1, 2) < 0.8);
      CHECK(cosine(mu, 1, 2, 2) < 0.8);
    }
  }
  SUBCASE("anisotropic scales are 2 softplus(U(-1,1)) and set the spread per coordinate") {
    TaskConfig c = config(3, {2}, 1, 30000);
    c.shift = Shift::Anisotropic;
    Generator gen(9);
    const TaskBatch b = sample_tasks(c, gen);
    REQUIRE(b.scales.defined());
    CHECK(b.scales.shape() == Shape{1, 2, 3});
    const std::vector<double> s = b.scales.to_vector(), mu = b.means.to_vector();
    const double lo = 2 * std::log1p(std::exp(-1.0)), hi = 2 * std::log1p(std::exp(1.0));
    for (double v : s) {
      CHECK(v > lo);
      CHECK(v < hi);
    }
    const std::vector<double> x = b.x.to_vector(), labels = b.labels.to_vector();
    std::vector<double> sq(6, 0), count(2, 0);
    for (size_t n = 0; n < labels.size(); ++n) {
      const auto z = static_cast<int64_t>(labels[n]);
      count[z] += 1;
      for (int64_t j = 0; j < 3; ++j) sq[z * 3 + j] += std::pow(x[n * 3 + j] - mu[z * 3 + j], 2);
    }
    for (int64_t i = 0; i < 6; ++i) {
      CHECK(std::sqrt(sq[i] / count[i / 3]) == doctest::Approx(s[i]).epsilon(0.05));
    }
  }
  SUBCASE("phase transition: two means Delta apart, Delta and d from (a, b, N)") {
    TaskConfig c = config(6, {2}, 20, 128);
    c.shift = Shift::PhaseTransition;
    c.phase_a = 4.0;
    Generator gen(4);
    const TaskBatch b = sample_tasks(c, gen);
    const double delta = phase_transition_separation(128, 4.0);
    CHECK(delta == doctest::Approx(std::sqrt(3.0 * std::log(128.0))));
    for (int64_t t = 0; t < 20; ++t) {
      const std::vector<double> mu = task_means(b, t).to_vector();
      double q = 0;
      for (int64_t j = 0; j < 6; ++j) q += std::pow(mu[j] - mu[6 + j], 2);
      CHECK(std::sqrt(q) == doctest::Approx(delta).epsilon(1e-9));
    }
    CHECK(phase_transition_dimension(128, 0.01) == 6);  // floor(0.01 * 128 ln 128) = 6
    c.ks = {3};
    CHECK_THROWS_WITH_AS(sample_tasks(c, gen), doctest::Contains("K = 2"), std::invalid_argument);
  }
}

TEST_CASE("sample_tasks rejects bad configs and impossible cosine constraints by name") {
  Generator gen(1);
  TaskConfig c = config(2, {2, 6}, 2, 8);
  c.k_max = 5;
  CHECK_THROWS_WITH_AS(sample_tasks(c, gen), doctest::Contains("sample_tasks: K=6 exceeds k_max"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(sample_tasks(config(0, {2}, 2, 8), gen), doctest::Contains("d must be"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(sample_tasks(config(2, {}, 2, 8), gen), doctest::Contains("empty"),
                       std::invalid_argument);
  // In one dimension every pair of same-signed means has cosine 1: three means cannot pass.
  CHECK_THROWS_WITH_AS(sample_tasks(config(1, {3}, 1, 8), gen),
                       doctest::Contains("pairwise cosine < 0.8"), std::runtime_error);
  CHECK(parse_shift("aniso") == Shift::Anisotropic);
  CHECK(std::string(shift_name(Shift::MeanPerturbation)) == "perturb");
  CHECK_THROWS_WITH_AS(parse_shift("tilt"), doctest::Contains("unknown shift 'tilt'"),
                       std::invalid_argument);
}

TEST_CASE("points_batch wraps user data as a one-task batch") {
  const Tensor x = from_vector({0, 1, 2, 3, 4, 5}, {3, 2}, DType::F32);
  const TaskBatch b = points_batch(x, 2);
  CHECK(b.x.shape() == Shape{1, 3, 2});
  CHECK(b.x.dtype() == DType::F64);
  CHECK(b.length(0) == 3);
  CHECK(b.k(0) == 2);
  CHECK(b.k_max() == 2);
  CHECK_THROWS_WITH_AS(points_batch(x, 4), doctest::Contains("number of points"),
                       std::invalid_argument);
}

TEST_CASE("split_range tiles the positions in order with near-equal blocks") {
  for (int parts = 1; parts <= 7; ++parts) {
    int64_t next = 0;
    for (int part = 0; part < parts; ++part) {
      const TaskRange r = split_range(20, part, parts);
      CHECK(r.first == next);
      CHECK(r.count >= 20 / parts);
      CHECK(r.count <= 20 / parts + 1);
      next = r.first + r.count;
    }
    CHECK(next == 20);
  }
  CHECK(split_range(5, 1, 3).first == 1);
  CHECK(split_range(5, 1, 3).count == 2);
  CHECK_THROWS_AS(split_range(5, 3, 3), std::invalid_argument);
  CHECK_THROWS_AS(split_range(5, 0, 0), std::invalid_argument);
}

TEST_CASE(
    "a batch drawn in ranges is the whole batch, bit for bit, and advances the generator "
    "alike") {
  TaskConfig c = config(3, {2, 3, 5}, 4, 16);  // 12 tasks; blocks cut across the K groups
  c.random_lengths = true;
  c.shift = Shift::Anisotropic;  // every buffer, scales included
  for (const DType dtype : {DType::F32, DType::F64}) {
    c.dtype = dtype;
    Generator whole_gen(17);
    const TaskBatch whole = sample_tasks(c, whole_gen);
    for (int parts : {1, 2, 3, 5, 12}) {
      CAPTURE(parts);
      std::vector<TaskBatch> blocks;
      for (int part = 0; part < parts; ++part) {
        Generator gen(17);
        blocks.push_back(sample_tasks(c, gen, split_range(12, part, parts)));
        CHECK(gen.state() == whole_gen.state());  // as far as the whole draw
      }
      auto joined = [&](auto member) {
        std::vector<Tensor> pieces;
        for (const TaskBatch& b : blocks) pieces.push_back(b.*member);
        return concat(pieces, 0);
      };
      for (auto member :
           {&TaskBatch::x, &TaskBatch::lengths, &TaskBatch::weights, &TaskBatch::means,
            &TaskBatch::component_mask, &TaskBatch::ks, &TaskBatch::labels, &TaskBatch::scales}) {
        const Tensor a = joined(member), b = whole.*member;
        REQUIRE(a.shape() == b.shape());
        REQUIRE(a.dtype() == b.dtype());
        CHECK(std::memcmp(a.contiguous().raw_data(), b.contiguous().raw_data(),
                          static_cast<size_t>(a.numel() * dtype_size(a.dtype()))) == 0);
      }
    }
  }
  Generator gen(17);
  CHECK_THROWS_WITH_AS(sample_tasks(c, gen, TaskRange{10, 3}),
                       "sample_tasks: tasks [10, 13) do not lie within the batch of 12",
                       std::invalid_argument);
}
