// metrics.h — how good an estimate is: component matching, errors, likelihood, accuracy, and
// their aggregation over tasks (docs/tgmm.md, "Evaluation").
//
// Components are identifiable only up to a permutation, so an estimate is first matched to the
// truth by the Hungarian algorithm on the cost (1/d) ||mu_hat_i - mu_j||^2. The result is
// assignment[i] = the true component matched to estimated component i, and the aligned estimate
// is  aligned[assignment[i]] = estimate[i]  — i.e. the estimate indexed by the INVERSE
// permutation. (The public TGMM code indexes by the assignment itself, which is only right when
// the permutation is its own inverse and so misaligns K >= 3.)
//
// Per task, with K components in R^d and L points:
//   mean error      (1/(K d)) sum_k ||mu_hat_k - mu_k||^2         (aligned)
//   weight error    (1/K) sum_k (pi_hat_k - pi_k)^2                 (aligned)
//   l2 error        mean error + weight error                       (the paper's headline)
//   scale error     (1/(K d)) sum_k ||sigma_hat_k - sigma_k||^2     (aligned; only for an
//                   estimate with scales; sigma = 1 on a task without true scales)
//   log-likelihood  (1/L) sum_n log sum_k pi_hat_k N(x_n; mu_hat_k, I)  (diag(scales^2) when the
//                   estimate has scales)
//   accuracy        fraction of points whose most probable estimated component, mapped through
//                   the assignment, is their true label
// A task fails when the estimator reports failure or anything above comes out non-finite; a
// failed task is counted, never averaged.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tensor/ops.h"

namespace tg::gmm {

// One estimator's output for one task. Tensors are f64 (f32 accepted).
struct Estimate {
  bool ok = true;
  std::string failure;  // why, when !ok
  Tensor weights;       // (K)
  Tensor means;         // (K, d)
  Tensor scales;        // (K, d) per-coordinate std, optional (diagonal-covariance estimators)
  int64_t iterations = 0;
};
Estimate failed_estimate(const std::string& why);

// assignment[i] = true component matched to estimated component i (min total (1/d)||.||^2).
std::vector<int64_t> match_components(const Tensor& estimated_means, const Tensor& true_means);
// Rows of `estimated` (K, ...) reordered so that row assignment[i] holds estimated row i.
Tensor align_components(const Tensor& estimated, const std::vector<int64_t>& assignment);

// Average log-likelihood per point of x (L, d) under the mixture (weights (K), means (K, d),
// scales (K, d) or undefined for unit variance).
double mixture_log_likelihood(const Tensor& x, const Tensor& weights, const Tensor& means,
                              const Tensor& scales = Tensor());
// For each point of x (L, d), the component with the highest posterior: (L) i64.
Tensor most_probable_component(const Tensor& x, const Tensor& weights, const Tensor& means,
                               const Tensor& scales = Tensor());

struct TaskMetrics {
  bool ok = false;
  std::string failure;
  double mean_error = 0, weight_error = 0, l2_error = 0, log_likelihood = 0, accuracy = 0;
  std::optional<double> scale_error;  // when the estimate has scales
};
// x (L, d) the task's points, labels (L) i64, true weights (K), true means (K, d), true scales
// (K, d) or undefined for a unit-variance task.
TaskMetrics task_metrics(const Estimate& estimate, const Tensor& true_weights,
                         const Tensor& true_means, const Tensor& x, const Tensor& labels,
                         const Tensor& true_scales = Tensor());

// Mean, standard deviation (population, ddof = 0) and median of some values; NaN when empty.
struct Summary {
  double mean = 0, std = 0, median = 0;
  int64_t count = 0;
};
Summary summarize(std::vector<double> values);

struct MetricsSummary {
  Summary mean_error, weight_error, l2_error, log_likelihood, accuracy;  // successful tasks only
  Summary scale_error;  // the successful tasks whose estimate has scales (count 0: none has)
  int64_t failures = 0, tasks = 0;
  std::map<std::string, int64_t> failure_reasons;  // why tasks failed: reason -> tasks
};
MetricsSummary aggregate(const std::vector<TaskMetrics>& tasks);

}  // namespace tg::gmm
