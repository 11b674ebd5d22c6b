// metrics.cpp — matching, per-task metrics and aggregation (see metrics.h).
#include "gmm/mixture/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include "gmm/mixture/hungarian.h"

namespace tg::gmm {

namespace {

constexpr double kLog2Pi = 1.8378770664093453;  // log(2 pi)
const double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_mixture(const char* op, const Tensor& x, const Tensor& weights, const Tensor& means,
                   const Tensor& scales) {
  const bool ok = x.dim() == 2 && weights.dim() == 1 && means.dim() == 2 &&
                  means.size(0) == weights.size(0) && means.size(1) == x.size(1) &&
                  (!scales.defined() || scales.shape() == means.shape());
  if (!ok) {
    throw std::invalid_argument(std::string(op) + ": expected x (L, d), weights (K), means (K, d)" +
                                ", got " + x.describe() + ", " + weights.describe() + ", " +
                                means.describe());
  }
}

// log pi_k + log N(x_n; mu_k, diag(s_k^2)) for every point and component: (L, K) row-major.
std::vector<double> log_joint(const Tensor& x, const Tensor& weights, const Tensor& means,
                              const Tensor& scales) {
  const int64_t L = x.size(0), d = x.size(1), K = weights.size(0);
  const std::vector<double> xs = x.to_vector(), w = weights.to_vector(), mu = means.to_vector();
  const std::vector<double> s = scales.defined() ? scales.to_vector() : std::vector<double>();
  std::vector<double> out(L * K);
  for (int64_t n = 0; n < L; ++n) {
    for (int64_t k = 0; k < K; ++k) {
      double q = 0.0, log_det = 0.0;
      for (int64_t c = 0; c < d; ++c) {
        const double sigma = s.empty() ? 1.0 : s[k * d + c];
        const double z = (xs[n * d + c] - mu[k * d + c]) / sigma;
        q += z * z;
        log_det += std::log(sigma);
      }
      out[n * K + k] = std::log(w[k]) - 0.5 * q - log_det - 0.5 * static_cast<double>(d) * kLog2Pi;
    }
  }
  return out;
}

}  // namespace

Estimate failed_estimate(const std::string& why) {
  Estimate e;
  e.ok = false;
  e.failure = why;
  return e;
}

std::vector<int64_t> match_components(const Tensor& estimated_means, const Tensor& true_means) {
  if (estimated_means.dim() != 2 || estimated_means.shape() != true_means.shape()) {
    throw std::invalid_argument("match_components: expected two (K, d) mean tensors, got " +
                                estimated_means.describe() + " and " + true_means.describe());
  }
  const std::vector<double> a = estimated_means.to_vector(), b = true_means.to_vector();
  const std::optional<std::vector<int64_t>> assignment =
      match_means(a.data(), b.data(), true_means.size(0), true_means.size(1));
  if (!assignment) {
    throw std::invalid_argument("match_components: the means give non-finite costs");
  }
  return *assignment;
}

Tensor align_components(const Tensor& estimated, const std::vector<int64_t>& assignment) {
  const int64_t K = static_cast<int64_t>(assignment.size());
  if (estimated.dim() < 1 || estimated.size(0) != K) {
    throw std::invalid_argument("align_components: " + estimated.describe() + " does not have " +
                                std::to_string(K) + " rows");
  }
  std::vector<int64_t> inverse(K);  // inverse[j] = estimated row matched to true row j
  for (int64_t i = 0; i < K; ++i) inverse[assignment[i]] = i;
  return index_select(estimated, 0, from_indices(inverse));
}

double mixture_log_likelihood(const Tensor& x, const Tensor& weights, const Tensor& means,
                              const Tensor& scales) {
  check_mixture("mixture_log_likelihood", x, weights, means, scales);
  const int64_t L = x.size(0), K = weights.size(0);
  const std::vector<double> joint = log_joint(x, weights, means, scales);
  double total = 0.0;
  for (int64_t n = 0; n < L; ++n) {
    const double* row = joint.data() + n * K;
    const double top = *std::max_element(row, row + K);
    double z = 0.0;
    for (int64_t k = 0; k < K; ++k) z += std::exp(row[k] - top);
    total += top + std::log(z);
  }
  return total / static_cast<double>(L);
}

Tensor most_probable_component(const Tensor& x, const Tensor& weights, const Tensor& means,
                               const Tensor& scales) {
  check_mixture("most_probable_component", x, weights, means, scales);
  const int64_t L = x.size(0), K = weights.size(0);
  const std::vector<double> joint = log_joint(x, weights, means, scales);
  std::vector<int64_t> best(L);
  for (int64_t n = 0; n < L; ++n) {
    const double* row = joint.data() + n * K;
    best[n] = std::max_element(row, row + K) - row;
  }
  return from_indices(best);
}

namespace {

std::string describe_or_undefined(const Tensor& t) {
  return t.defined() ? t.describe() : std::string("undefined");
}

void check_task_inputs(const Estimate& estimate, const Tensor& true_weights,
                       const Tensor& true_means, const Tensor& x, const Tensor& labels,
                       const Tensor& true_scales) {
  const bool ok = estimate.weights.defined() && estimate.means.defined() &&
                  estimate.weights.shape() == true_weights.shape() &&
                  estimate.means.shape() == true_means.shape() &&
                  (!estimate.scales.defined() || estimate.scales.shape() == true_means.shape()) &&
                  (!true_scales.defined() || true_scales.shape() == true_means.shape()) &&
                  labels.dim() == 1 && labels.size(0) == x.size(0);
  if (!ok) {
    throw std::invalid_argument("task_metrics: estimate " +
                                describe_or_undefined(estimate.weights) + ", " +
                                describe_or_undefined(estimate.means) + " does not match truth " +
                                true_weights.describe() + ", " + true_means.describe());
  }
}

// (1/(K d)) sum ||sigma_hat - sigma||^2 over the aligned scales (K, d); sigma = 1 when undefined.
double scale_error(const Tensor& aligned_scales, const Tensor& true_scales) {
  const std::vector<double> s_hat = aligned_scales.to_vector();
  const std::vector<double> s =
      true_scales.defined() ? true_scales.to_vector() : std::vector<double>(s_hat.size(), 1.0);
  double total = 0.0;
  for (size_t i = 0; i < s.size(); ++i) total += (s_hat[i] - s[i]) * (s_hat[i] - s[i]);
  return total / static_cast<double>(s.size());
}

// The fraction of points whose most probable estimated component, mapped through the
// assignment, is their true label.
double accuracy(const Estimate& estimate, const Tensor& x, const Tensor& labels,
                const std::vector<int64_t>& assignment) {
  const Tensor predicted = most_probable_component(x, estimate.weights, estimate.means,
                                                   estimate.scales);  // (L) estimated components
  const int64_t* p = predicted.data<int64_t>();
  const std::vector<double> truth = labels.to_vector();
  int64_t correct = 0;
  for (int64_t n = 0; n < x.size(0); ++n) {
    correct += assignment[p[n]] == static_cast<int64_t>(truth[n]) ? 1 : 0;
  }
  return static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(1, x.size(0)));
}

}  // namespace

TaskMetrics task_metrics(const Estimate& estimate, const Tensor& true_weights,
                         const Tensor& true_means, const Tensor& x, const Tensor& labels,
                         const Tensor& true_scales) {
  TaskMetrics m;
  if (!estimate.ok) {
    m.failure = estimate.failure.empty() ? "estimator failed" : estimate.failure;
    return m;
  }
  check_task_inputs(estimate, true_weights, true_means, x, labels, true_scales);
  if (!all_finite(estimate.weights) || !all_finite(estimate.means) ||
      (estimate.scales.defined() && !all_finite(estimate.scales))) {
    m.failure = "non-finite estimate";
    return m;
  }
  const int64_t K = true_means.size(0), d = true_means.size(1);
  const std::vector<int64_t> assignment = match_components(estimate.means, true_means);
  const std::vector<double> mu_hat = align_components(estimate.means, assignment).to_vector();
  const std::vector<double> pi_hat = align_components(estimate.weights, assignment).to_vector();
  const std::vector<double> mu = true_means.to_vector(), pi = true_weights.to_vector();
  for (int64_t i = 0; i < K * d; ++i) m.mean_error += (mu_hat[i] - mu[i]) * (mu_hat[i] - mu[i]);
  m.mean_error /= static_cast<double>(K * d);
  for (int64_t k = 0; k < K; ++k) m.weight_error += (pi_hat[k] - pi[k]) * (pi_hat[k] - pi[k]);
  m.weight_error /= static_cast<double>(K);
  m.l2_error = m.mean_error + m.weight_error;
  if (estimate.scales.defined()) {
    m.scale_error = scale_error(align_components(estimate.scales, assignment), true_scales);
  }
  m.log_likelihood = mixture_log_likelihood(x, estimate.weights, estimate.means, estimate.scales);
  m.accuracy = accuracy(estimate, x, labels, assignment);
  for (double v :
       {m.mean_error, m.weight_error, m.log_likelihood, m.accuracy, m.scale_error.value_or(0.0)}) {
    if (!std::isfinite(v)) {
      m.failure = "non-finite metric";
      return m;
    }
  }
  m.ok = true;
  return m;
}

Summary summarize(std::vector<double> values) {
  Summary s;
  s.count = static_cast<int64_t>(values.size());
  if (values.empty()) {
    s.mean = s.std = s.median = kNaN;
    return s;
  }
  const double n = static_cast<double>(values.size());
  for (double v : values) s.mean += v;
  s.mean /= n;
  for (double v : values) s.std += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(s.std / n);
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  s.median = values.size() % 2 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
  return s;
}

MetricsSummary aggregate(const std::vector<TaskMetrics>& tasks) {
  std::vector<double> mean_error, weight_error, l2_error, log_likelihood, accuracy, scale_error;
  MetricsSummary out;
  out.tasks = static_cast<int64_t>(tasks.size());
  for (const auto& t : tasks) {
    if (!t.ok) {
      ++out.failures;
      ++out.failure_reasons[t.failure];
      continue;
    }
    mean_error.push_back(t.mean_error);
    weight_error.push_back(t.weight_error);
    l2_error.push_back(t.l2_error);
    log_likelihood.push_back(t.log_likelihood);
    accuracy.push_back(t.accuracy);
    if (t.scale_error) scale_error.push_back(*t.scale_error);
  }
  out.mean_error = summarize(std::move(mean_error));
  out.weight_error = summarize(std::move(weight_error));
  out.l2_error = summarize(std::move(l2_error));
  out.log_likelihood = summarize(std::move(log_likelihood));
  out.accuracy = summarize(std::move(accuracy));
  out.scale_error = summarize(std::move(scale_error));
  return out;
}

}  // namespace tg::gmm
