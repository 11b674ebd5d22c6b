// test_metrics.cpp — Hungarian assignment against brute force, component matching applied the
// right way round, the per-task metrics on hand cases, aggregation that never averages a failure,
// and the evaluation harness (same tasks for every method, the JSON contract, shares of the tasks
// that concatenate to the whole); the scale error of
// diagonal-covariance estimates, the diagonal EMs on anisotropic tasks, and the spectral method
// refused there with its reason.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <vector>

#include "gmm/mixture/evaluate.h"
#include "gmm/mixture/hungarian.h"
#include "gmm/mixture/metrics.h"

using namespace tg;
using namespace tg::gmm;

namespace {

double total_cost(const std::vector<double>& cost, const std::vector<int64_t>& assignment) {
  const auto n = static_cast<int64_t>(assignment.size());
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += cost[i * n + assignment[i]];
  return s;
}

Estimate estimate(const std::vector<double>& w, const std::vector<double>& mu, int64_t d) {
  Estimate e;
  e.weights = from_vector(w, {}, DType::F64);
  e.means = from_vector(mu, {static_cast<int64_t>(w.size()), d}, DType::F64);
  return e;
}

}  // namespace

TEST_CASE("hungarian finds the brute-force minimum over all permutations for K <= 6") {
  Generator gen(5);
  for (int64_t n = 1; n <= 6; ++n) {
    for (int trial = 0; trial < 60; ++trial) {
      std::vector<double> cost(n * n);
      for (auto& c : cost) {
        // Mix continuous costs with small integers, which make ties (several optima) common.
        c = trial % 2 ? gen.uniform(-3, 10) : static_cast<double>(gen.randint(0, 4));
      }
      const std::vector<int64_t> a = hungarian(cost, n);
      std::vector<int64_t> sorted = a;
      std::sort(sorted.begin(), sorted.end());
      std::vector<int64_t> identity(n);
      std::iota(identity.begin(), identity.end(), 0);
      REQUIRE(sorted == identity);  // a permutation
      std::vector<int64_t> p = identity;
      double best = 1e300;
      do best = std::min(best, total_cost(cost, p));
      while (std::next_permutation(p.begin(), p.end()));
      CHECK(total_cost(cost, a) == doctest::Approx(best).epsilon(1e-12));
    }
  }
}

TEST_CASE("hungarian on a known case and its errors") {
  // Rows want columns (2, 0, 1): cost 1 + 2 + 3 against at least 10 for any other permutation.
  const Tensor cost = from_vector({9, 9, 1, 2, 9, 9, 9, 3, 9}, {3, 3}, DType::F64);
  CHECK(hungarian(cost) == std::vector<int64_t>{2, 0, 1});
  CHECK(hungarian(std::vector<double>{}, 0).empty());
  CHECK_THROWS_WITH_AS(hungarian(zeros({2, 3})), doctest::Contains("hungarian: expected a square"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(hungarian({1.0, NAN, 0.0, 1.0}, 2), doctest::Contains("finite"),
                       std::invalid_argument);
}

TEST_CASE("match_means: the (1/d)||.||^2 matching, and no matching for non-finite costs") {
  // Estimated rows (0,0), (10,0), (5,5) against true rows (5,4), (0,1), (9,0): (1, 2, 0).
  const std::vector<double> estimated = {0, 0, 10, 0, 5, 5}, truth = {5, 4, 0, 1, 9, 0};
  const auto assignment = match_means(estimated.data(), truth.data(), 3, 2);
  REQUIRE(assignment.has_value());
  CHECK(*assignment == std::vector<int64_t>{1, 2, 0});
  // Finite means whose squared distance overflows, and a NaN: no matching, and the metrics'
  // match_components refuses.
  const std::vector<double> huge = {1e200, 0, 0, 0}, nan = {NAN, 0, 0, 0}, two = {0, 0, 1, 1};
  CHECK_FALSE(match_means(huge.data(), two.data(), 2, 2).has_value());
  CHECK_FALSE(match_means(nan.data(), two.data(), 2, 2).has_value());
  CHECK_THROWS_WITH_AS(
      match_components(from_vector(huge, {2, 2}, DType::F64), from_vector(two, {2, 2}, DType::F64)),
      doctest::Contains("non-finite"), std::invalid_argument);
}

TEST_CASE("a permuted perfect estimate has zero error (the permutation is applied inverted)") {
  // A 3-cycle is not its own inverse: indexing by the assignment itself (the public code's bug)
  // would misalign it.
  const std::vector<double> w = {0.2, 0.3, 0.5}, mu = {-4, 0, 0, 4, 4, 0};
  const std::vector<int64_t> cycle = {1, 2, 0};  // estimated i holds true cycle[i]
  std::vector<double> w_hat(3), mu_hat(6);
  for (int64_t i = 0; i < 3; ++i) {
    w_hat[i] = w[cycle[i]];
    mu_hat[i * 2] = mu[cycle[i] * 2];
    mu_hat[i * 2 + 1] = mu[cycle[i] * 2 + 1];
  }
  const Estimate e = estimate(w_hat, mu_hat, 2);
  const Tensor true_means = from_vector(mu, {3, 2}, DType::F64);
  const std::vector<int64_t> assignment = match_components(e.means, true_means);
  CHECK(assignment == cycle);
  CHECK(max_abs_diff(align_components(e.means, assignment), true_means) == 0.0);
  // The buggy way round: estimate[assignment] is not the truth.
  CHECK(max_abs_diff(index_select(e.means, 0, from_indices(assignment)), true_means) > 1.0);

  const Tensor x = from_vector({-4, 0.5, 4.2, 0, 0, 3.5, -3, -1}, {4, 2}, DType::F64);
  const Tensor labels = from_indices({0, 2, 1, 0});
  const TaskMetrics m = task_metrics(e, from_vector(w, {}, DType::F64), true_means, x, labels);
  REQUIRE(m.ok);
  CHECK(m.mean_error == 0.0);
  CHECK(m.weight_error == 0.0);
  CHECK(m.l2_error == 0.0);
  CHECK(m.accuracy == 1.0);
}

TEST_CASE("mean error, weight error, log-likelihood and accuracy on a hand case") {
  // K = 2, d = 2; the estimate moves each mean by (0.1, -0.2) and swaps the slots.
  const Tensor pi = from_vector({0.4, 0.6}, {}, DType::F64);
  const Tensor mu = from_vector({0, 0, 5, 5}, {2, 2}, DType::F64);
  const Estimate e = estimate({0.5, 0.5}, {5.1, 4.8, 0.1, -0.2}, 2);
  const Tensor x = from_vector({0, 0, 2, 2, 5, 5}, {3, 2}, DType::F64);
  const Tensor labels = from_indices({0, 1, 1});  // (2,2) is nearer to mean 0: one miss
  const TaskMetrics m = task_metrics(e, pi, mu, x, labels);
  REQUIRE(m.ok);
  CHECK(m.mean_error == doctest::Approx((0.01 + 0.04) * 2 / 4));
  CHECK(m.weight_error == doctest::Approx((0.01 + 0.01) / 2));
  CHECK(m.l2_error == doctest::Approx(m.mean_error + m.weight_error));
  CHECK(m.accuracy == doctest::Approx(2.0 / 3));
  // Log-likelihood by hand: (1/3) sum_n log sum_k 0.5 N(x_n; mu_hat_k, I).
  const double mh[2][2] = {{5.1, 4.8}, {0.1, -0.2}}, xs[3][2] = {{0, 0}, {2, 2}, {5, 5}};
  double ll = 0;
  for (auto& p : xs) {
    double s = 0;
    for (auto& q : mh) {
      const double r2 = (p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]);
      s += 0.5 * std::exp(-0.5 * r2) / (2 * M_PI);
    }
    ll += std::log(s) / 3;
  }
  CHECK(m.log_likelihood == doctest::Approx(ll).epsilon(1e-12));
  // One component at x itself: log N = -(d/2) log 2 pi.
  CHECK(mixture_log_likelihood(
            from_vector({1, 2}, {1, 2}, DType::F64), from_vector({1}, {}, DType::F64),
            from_vector({1, 2}, {1, 2}, DType::F64)) == doctest::Approx(-std::log(2 * M_PI)));
  // With scales 2 the density at the mean drops by 2 per coordinate.
  CHECK(mixture_log_likelihood(
            from_vector({1, 2}, {1, 2}, DType::F64), from_vector({1}, {}, DType::F64),
            from_vector({1, 2}, {1, 2}, DType::F64), full({1, 2}, 2.0, DType::F64)) ==
        doctest::Approx(-std::log(2 * M_PI) - 2 * std::log(2.0)));
}

TEST_CASE("failures are counted, never averaged, and serialise as null") {
  const Tensor pi = from_vector({0.5, 0.5}, {}, DType::F64);
  const Tensor mu = from_vector({0, 0, 5, 5}, {2, 2}, DType::F64);
  const Tensor x = from_vector({0, 0, 5, 5}, {2, 2}, DType::F64);
  const Tensor labels = from_indices({0, 1});
  std::vector<TaskMetrics> tasks;
  tasks.push_back(task_metrics(failed_estimate("K >= d"), pi, mu, x, labels));
  tasks.push_back(task_metrics(estimate({0.5, 0.5}, {0, 0, NAN, 5}, 2), pi, mu, x, labels));
  CHECK_FALSE(tasks[0].ok);
  CHECK(tasks[0].failure == "K >= d");
  CHECK_FALSE(tasks[1].ok);
  CHECK(tasks[1].failure == "non-finite estimate");
  const MetricsSummary none = aggregate(tasks);
  CHECK(none.failures == 2);
  CHECK(none.l2_error.count == 0);
  tasks.push_back(task_metrics(estimate({0.5, 0.5}, {0, 0, 5, 5}, 2), pi, mu, x, labels));
  tasks.push_back(task_metrics(estimate({0.5, 0.5}, {0, 0, 5, 6}, 2), pi, mu, x, labels));
  const MetricsSummary some = aggregate(tasks);
  CHECK(some.failures == 2);
  CHECK(some.tasks == 4);
  CHECK(some.mean_error.count == 2);
  CHECK(some.mean_error.mean == doctest::Approx(0.125));  // (0 + 1/4) / 2
  CHECK(std::isfinite(some.log_likelihood.mean));

  EvalRecord r{"spectral", 2, 3, 32, none, 0.0};
  const nlohmann::json j = to_json(r);
  CHECK(j["l2_error"].is_null());
  CHECK(j["failures"] == 2);
  CHECK(j.dump().find("NaN") == std::string::npos);
}

TEST_CASE("summarize: mean, population std, median") {
  const Summary s = summarize({4, 1, 3, 2});
  CHECK(s.mean == 2.5);
  CHECK(s.std == doctest::Approx(std::sqrt(1.25)));
  CHECK(s.median == 2.5);
  CHECK(summarize({5, 1, 3}).median == 3);
  CHECK(std::isnan(summarize({}).mean));
}

TEST_CASE("evaluate runs every method on the same tasks and writes the JSON contract") {
  // An oracle (returns the truth) scores zero error; a method that always fails scores failures.
  Estimator oracle{"oracle", [](const TaskBatch& b, Generator&) {
                     std::vector<Estimate> out;
                     for (int64_t t = 0; t < b.batch_size(); ++t) {
                       Estimate e;
                       e.weights = task_weights(b, t).contiguous();
                       e.means = task_means(b, t).contiguous();
                       out.push_back(e);
                     }
                     return out;
                   }};
  Estimator broken{"broken", [](const TaskBatch& b, Generator&) {
                     return std::vector<Estimate>(b.batch_size(), failed_estimate("broken"));
                   }};
  EvalSettings s;
  s.d = 2;
  s.ks = {2, 3};
  s.ns = {16, 32};
  s.tasks = 8;
  s.seed = 4;
  const auto records = evaluate({oracle, em_paper_estimator(), broken}, s);
  REQUIRE(records.size() == 12);
  for (const auto& r : records) {
    CHECK(r.metrics.tasks == 8);
    if (r.method == "oracle") {
      CHECK(r.metrics.failures == 0);
      CHECK(r.metrics.l2_error.mean == 0.0);
    }
    if (r.method == "broken") CHECK(r.metrics.failures == 8);
  }
  // Methods do not influence each other: em-paper alone gives the same numbers.
  const auto alone = evaluate({em_paper_estimator()}, s);
  CHECK(alone[0].metrics.l2_error.mean == records[1].metrics.l2_error.mean);
  CHECK(alone[3].metrics.log_likelihood.mean == records[10].metrics.log_likelihood.mean);

  const nlohmann::json j = to_json(records);
  REQUIRE(j.is_array());
  for (const char* key :
       {"method", "K", "N", "mean_error", "weight_error", "l2_error", "log_likelihood", "accuracy",
        "failures", "tasks", "l2_error_std", "accuracy_median"}) {
    CHECK(j[1].contains(key));
  }
  CHECK(j[1]["method"] == "em-paper");
  CHECK(j[1]["K"] == 2);
  CHECK(j[1]["N"] == 16);
  std::ostringstream table;
  print_table(table, records);
  CHECK(table.str().find("em-paper") != std::string::npos);
  CHECK(builtin_estimator("spectral").name == "spectral");
  CHECK_THROWS_WITH_AS(builtin_estimator("tgmm"), doctest::Contains("unknown method 'tgmm'"),
                       std::invalid_argument);
}

TEST_CASE("evaluate_tasks on shares: the shares' metrics concatenate to the whole batch's") {
  // A deterministic estimator that is not the oracle: uniform weights, the first K points as
  // means, so the metrics vary from task to task.
  Estimator first_points{"first-points", [](const TaskBatch& b, Generator&) {
                           std::vector<Estimate> out;
                           for (int64_t t = 0; t < b.batch_size(); ++t) {
                             const int64_t K = b.k(t);
                             Estimate e;
                             e.weights = full({K}, 1.0 / static_cast<double>(K), DType::F64);
                             e.means = task_points(b, t).narrow(0, 0, K).contiguous();
                             out.push_back(e);
                           }
                           return out;
                         }};
  EvalSettings s;
  s.d = 2;
  s.ks = {2, 3};
  s.ns = {16};
  s.tasks = 7;
  s.seed = 5;
  const std::vector<EvalCell> whole = evaluate_tasks({first_points}, s);
  REQUIRE(whole.size() == 2);
  const std::vector<EvalRecord> records = evaluate({first_points}, s);
  for (int parts : {2, 3, 7, 9}) {  // 9 > 7 tasks: some shares are empty
    CAPTURE(parts);
    std::vector<EvalCell> joined = whole;
    for (EvalCell& cell : joined) cell.tasks.clear();
    for (int part = 0; part < parts; ++part) {
      const std::vector<EvalCell> share = evaluate_tasks({first_points}, s, part, parts);
      REQUIRE(share.size() == whole.size());
      for (size_t i = 0; i < share.size(); ++i) {
        CHECK(share[i].method == whole[i].method);
        CHECK(share[i].k == whole[i].k);
        CHECK(share[i].tasks.size() == static_cast<size_t>(split_range(7, part, parts).count));
        joined[i].tasks.insert(joined[i].tasks.end(), share[i].tasks.begin(), share[i].tasks.end());
      }
    }
    for (size_t i = 0; i < whole.size(); ++i) {
      REQUIRE(joined[i].tasks.size() == whole[i].tasks.size());
      for (size_t t = 0; t < whole[i].tasks.size(); ++t) {
        CHECK(joined[i].tasks[t].l2_error == whole[i].tasks[t].l2_error);
        CHECK(joined[i].tasks[t].log_likelihood == whole[i].tasks[t].log_likelihood);
        CHECK(joined[i].tasks[t].accuracy == whole[i].tasks[t].accuracy);
      }
      const EvalRecord r = eval_record(joined[i]);
      CHECK(r.metrics.l2_error.mean == records[i].metrics.l2_error.mean);
      CHECK(r.metrics.l2_error.median == records[i].metrics.l2_error.median);
      CHECK(r.metrics.accuracy.std == records[i].metrics.accuracy.std);
    }
  }
}

TEST_CASE("evaluate on the phase transition: d = floor(b N ln N) at each N, or the given d") {
  // The oracle reads the tasks' own dimension, so its records show the d the tasks had.
  Estimator dimension{"dimension", [](const TaskBatch& b, Generator&) {
                        std::vector<Estimate> out;
                        for (int64_t t = 0; t < b.batch_size(); ++t) {
                          Estimate e;
                          e.weights = task_weights(b, t).contiguous();
                          e.means = task_means(b, t).contiguous();
                          out.push_back(e);
                        }
                        return out;
                      }};
  EvalSettings s;
  s.d = 5;
  s.ks = {2};
  s.ns = {16, 64};
  s.tasks = 4;
  s.shift = Shift::PhaseTransition;
  s.phase_b = 0.1;
  const auto derived = evaluate({dimension}, s);
  REQUIRE(derived.size() == 2);
  CHECK(derived[0].d == phase_transition_dimension(16, 0.1));  // floor(0.1 * 16 ln 16) = 4
  CHECK(derived[0].d == 4);
  CHECK(derived[1].d == 26);  // floor(0.1 * 64 ln 64)
  CHECK(derived[1].metrics.l2_error.mean == 0.0);
  s.phase_b = 0.0;  // keep s.d
  for (const auto& r : evaluate({dimension}, s)) CHECK(r.d == 5);
  s.phase_b = -1.0;
  CHECK_THROWS_WITH_AS(evaluate({dimension}, s), doctest::Contains("phase_b must be >= 0"),
                       std::invalid_argument);
}

TEST_CASE(
    "scale error: aligned like the means, against the true scales or 1; JSON keys only "
    "for records with scales") {
  // K = 2, d = 2; the estimate swaps the slots.
  const Tensor pi = from_vector({0.4, 0.6}, {}, DType::F64);
  const Tensor mu = from_vector({0, 0, 5, 5}, {2, 2}, DType::F64);
  const Tensor sigma = from_vector({0.5, 1.0, 2.0, 1.5}, {2, 2}, DType::F64);
  const Tensor x = from_vector({0, 0, 5, 5}, {2, 2}, DType::F64);
  const Tensor labels = from_indices({0, 1});
  Estimate e = estimate({0.6, 0.4}, {5, 5, 0, 0}, 2);
  e.scales = from_vector({2.5, 1.5, 0.5, 0.0 + 2.0}, {2, 2}, DType::F64);
  const TaskMetrics m = task_metrics(e, pi, mu, x, labels, sigma);
  REQUIRE(m.ok);
  REQUIRE(m.scale_error.has_value());
  // Aligned: component 0 gets (0.5, 2.0) against (0.5, 1.0); component 1 (2.5, 1.5) vs (2, 1.5).
  CHECK(*m.scale_error == doctest::Approx((0.0 + 1.0 + 0.25 + 0.0) / 4));
  CHECK(m.mean_error == 0.0);
  // The log-likelihood uses the estimated scales.
  CHECK(m.log_likelihood ==
        doctest::Approx(mixture_log_likelihood(x, e.weights, e.means, e.scales)));
  // A unit-variance task (no true scales): the truth is 1 everywhere.
  const TaskMetrics unit_truth = task_metrics(e, pi, mu, x, labels);
  CHECK(*unit_truth.scale_error ==
        doctest::Approx((0.25 + 1.0 + 2.25 + 0.25) / 4));  // (0.5,2)-1 and (2.5,1.5)-1
  // An estimate without scales has no scale error, even on an anisotropic task.
  const TaskMetrics no_scales =
      task_metrics(estimate({0.6, 0.4}, {5, 5, 0, 0}, 2), pi, mu, x, labels, sigma);
  CHECK_FALSE(no_scales.scale_error.has_value());
  // Non-finite scales fail the task.
  Estimate bad = e;
  bad.scales = from_vector({NAN, 1, 1, 1}, {2, 2}, DType::F64);
  CHECK(task_metrics(bad, pi, mu, x, labels, sigma).failure == "non-finite estimate");

  const MetricsSummary with = aggregate({m, unit_truth});
  CHECK(with.scale_error.count == 2);
  CHECK(with.scale_error.mean == doctest::Approx((0.3125 + 0.9375) / 2));
  const nlohmann::json j = to_json(EvalRecord{"em-diag", 2, 2, 2, with, 0.0});
  CHECK(j["scale_error"] == doctest::Approx(0.625));
  CHECK(j["scale_error_std"] == doctest::Approx(0.3125));
  CHECK(j["scale_error_median"] == doctest::Approx(0.625));
  CHECK_FALSE(j.contains("failure_reasons"));
  const nlohmann::json without =
      to_json(EvalRecord{"em-paper", 2, 2, 2, aggregate({no_scales}), 0});
  CHECK_FALSE(without.contains("scale_error"));
  CHECK_FALSE(without.contains("scale_error_std"));
  CHECK_FALSE(without.contains("scale_error_median"));
  std::ostringstream table;
  print_table(table, {EvalRecord{"em-paper", 2, 2, 2, aggregate({no_scales}), 0}});
  CHECK(table.str().find("scale_err") == std::string::npos);  // the default table is unchanged
}

TEST_CASE(
    "on anisotropic tasks the diagonal EMs recover the scales; spectral fails with its "
    "reason, never NaN") {
  EvalSettings s;
  s.d = 2;
  s.ks = {2};
  s.ns = {2000};
  s.tasks = 16;
  s.seed = 3;
  s.shift = Shift::Anisotropic;
  const auto records = evaluate({em_paper_diagonal_estimator(), em_diagonal_estimator(),
                                 spectral_estimator(), em_paper_estimator()},
                                s);
  REQUIRE(records.size() == 4);
  const EvalRecord &paper = records[0], &strong = records[1], &spectral = records[2],
                   &unit = records[3];
  CHECK(paper.method == "em-paper-diag");
  CHECK(paper.metrics.failures == 0);
  CHECK(paper.metrics.scale_error.median < 0.01);
  CHECK(strong.metrics.scale_error.mean < 0.01);
  CHECK(strong.metrics.mean_error.mean < 0.05);
  CHECK(unit.metrics.scale_error.count == 0);  // unit-variance EM: no scales to score

  CHECK(spectral.metrics.failures == 16);
  CHECK(
      spectral.metrics.failure_reasons ==
      std::map<std::string, int64_t>{
          {"spectral assumes unit-variance components: not applicable to anisotropic tasks", 16}});
  const nlohmann::json j = to_json(spectral);
  CHECK(j["l2_error"].is_null());
  CHECK_FALSE(j.contains("scale_error"));
  CHECK(j["failure_reasons"].begin().value() == 16);
  CHECK(j.dump().find("NaN") == std::string::npos);
  std::ostringstream table;
  print_table(table, records);
  CHECK(table.str().find("scale_err") != std::string::npos);
  CHECK(table.str().find("failed: spectral: spectral assumes unit-variance components") !=
        std::string::npos);
  // On unit-variance tasks spectral runs as before.
  s.shift = Shift::None;
  s.d = 4;
  s.ns = {500};
  CHECK(evaluate({spectral_estimator()}, s)[0].metrics.failures < 16);
  CHECK(builtin_estimator("em-paper-diag").name == "em-paper-diag");
}
