// evaluate.cpp — built-in estimators, the evaluation loop, table and JSON (see evaluate.h).
#include "gmm/mixture/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <ostream>
#include <stdexcept>

#include "gmm/mixture/spectral.h"

namespace tg::gmm {

namespace {

// splitmix64 finaliser: derived seeds that differ in every bit for nearby inputs.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t derive_seed(uint64_t seed, std::initializer_list<uint64_t> parts) {
  uint64_t h = mix(seed);
  for (uint64_t p : parts) h = mix(h ^ p);
  return h;
}

uint64_t name_hash(const std::string& name) {  // FNV-1a: stable across platforms
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace

std::vector<Estimate> em_estimates(const EmResult& result, const Tensor& ks) {
  const int64_t B = result.weights.size(0);
  std::vector<Estimate> out(B);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t K = static_cast<int64_t>(ks.at({b}));
    Estimate& e = out[b];
    e.weights = result.weights.select(0, b).narrow(0, 0, K).contiguous();
    e.means = result.means.select(0, b).narrow(0, 0, K).contiguous();
    if (result.scales.defined()) e.scales = result.scales.select(0, b).narrow(0, 0, K).contiguous();
    e.iterations = result.iterations.data<int64_t>()[b];
    if (!all_finite(e.weights) || !all_finite(e.means)) {
      e = failed_estimate(
          "EM: the fit is not finite (squared distances overflow: values too large)");
    }
  }
  return out;
}

Estimator em_estimator(const std::string& name, const EmOptions& options) {
  return {name, [options](const TaskBatch& batch, Generator& gen) {
            return em_estimates(em_fit(batch, options, gen), batch.ks);
          }};
}

Estimator em_paper_estimator() { return em_estimator("em-paper", EmOptions::paper()); }
Estimator em_strong_estimator(int64_t restarts) {
  return em_estimator("em-strong", EmOptions::strong(restarts));
}
Estimator em_paper_diagonal_estimator() {
  EmOptions options = EmOptions::paper();
  options.covariance = Covariance::Diagonal;  // starts from unit scales
  return em_estimator("em-paper-diag", options);
}
Estimator em_diagonal_estimator(int64_t restarts) {
  EmOptions options = EmOptions::strong(restarts);
  options.covariance = Covariance::Diagonal;
  return em_estimator("em-diag", options);
}

Estimator spectral_estimator() {
  return {"spectral",
          [](const TaskBatch& batch, Generator& gen) {
            const int64_t B = batch.batch_size();
            std::vector<uint64_t> seeds(B);
            for (auto& s : seeds) s = gen.next_u64();
            std::vector<Estimate> out(B);
#pragma omp parallel for schedule(dynamic)
            for (int64_t b = 0; b < B; ++b) {
              Generator task_gen(seeds[b]);
              try {
                const Tensor x = task_points(batch, b).to(DType::F64).contiguous();
                const SpectralFit fit = spectral_fit(x, batch.k(b), task_gen);
                if (!fit.ok) {
                  out[b] = failed_estimate(fit.failure);
                } else {
                  out[b].weights = fit.weights;
                  out[b].means = fit.means;
                }
              } catch (const std::exception& e) {
                out[b] = failed_estimate(e.what());
              }
            }
            return out;
          },
          /*needs_unit_variance=*/true};
}

std::vector<std::string> builtin_estimator_names() {
  return {"em-paper", "em-strong", "em-paper-diag", "em-diag", "spectral"};
}

Estimator builtin_estimator(const std::string& name) {
  if (name == "em-paper") return em_paper_estimator();
  if (name == "em-strong") return em_strong_estimator();
  if (name == "em-paper-diag") return em_paper_diagonal_estimator();
  if (name == "em-diag") return em_diagonal_estimator();
  if (name == "spectral") return spectral_estimator();
  throw std::invalid_argument(
      "builtin_estimator: unknown method '" + name +
      "' (expected em-paper, em-strong, em-paper-diag, em-diag or spectral)");
}

namespace {

// The estimator's estimates for every task of `batch`: its own, or on anisotropic tasks, for an
// estimator that needs unit variance, a failure per task saying why.
std::vector<Estimate> estimates_of(const Estimator& estimator, const TaskBatch& batch, Shift shift,
                                   Generator& gen) {
  if (shift == Shift::Anisotropic && estimator.needs_unit_variance) {
    return std::vector<Estimate>(
        batch.batch_size(),
        failed_estimate(estimator.name +
                        " assumes unit-variance components: not applicable to anisotropic tasks"));
  }
  return estimator.fit(batch, gen);
}

// One estimator on the tasks of one (K, N) batch (or a share of them), scored per task and timed.
EvalCell score(const Estimator& estimator, const TaskBatch& batch, const EvalSettings& settings,
               int64_t d, int64_t k, int64_t n) {
  EvalCell cell{estimator.name, d, k, n, {}, 0.0};
  const int64_t B = batch.batch_size();
  if (B == 0) return cell;
  Generator gen(derive_seed(settings.seed, {static_cast<uint64_t>(k), static_cast<uint64_t>(n),
                                            name_hash(estimator.name)}));
  const auto start = std::chrono::steady_clock::now();
  const std::vector<Estimate> estimates = estimates_of(estimator, batch, settings.shift, gen);
  cell.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (static_cast<int64_t>(estimates.size()) != B) {
    throw std::runtime_error("evaluate: estimator " + estimator.name + " returned " +
                             std::to_string(estimates.size()) + " estimates for " +
                             std::to_string(B) + " tasks");
  }
  cell.tasks.resize(B);
  for (int64_t b = 0; b < B; ++b) {
    cell.tasks[b] =
        task_metrics(estimates[b], task_weights(batch, b), task_means(batch, b),
                     task_points(batch, b), task_labels(batch, b), task_scales(batch, b));
  }
  return cell;
}

}  // namespace

std::vector<EvalCell> evaluate_tasks(const std::vector<Estimator>& estimators,
                                     const EvalSettings& settings, int part, int parts) {
  if (settings.tasks < 1) throw std::invalid_argument("evaluate: tasks must be >= 1");
  if (!(settings.phase_b >= 0)) throw std::invalid_argument("evaluate: phase_b must be >= 0");
  const TaskRange range = split_range(settings.tasks, part, parts);
  std::vector<EvalCell> cells;
  for (int64_t k : settings.ks) {
    for (int64_t n : settings.ns) {
      TaskConfig config;
      config.d = settings.shift == Shift::PhaseTransition && settings.phase_b > 0
                     ? phase_transition_dimension(n, settings.phase_b)
                     : settings.d;
      config.ks = {k};
      config.tasks_per_k = settings.tasks;
      config.n = n;
      config.random_lengths = false;
      config.shift = settings.shift;
      config.perturbation_std = settings.perturbation_std;
      config.phase_a = settings.phase_a;
      config.dtype = DType::F64;
      Generator task_gen(
          derive_seed(settings.seed, {static_cast<uint64_t>(k), static_cast<uint64_t>(n)}));
      const TaskBatch batch = sample_tasks(config, task_gen, range);
      for (const Estimator& estimator : estimators) {
        cells.push_back(score(estimator, batch, settings, config.d, k, n));
      }
    }
  }
  return cells;
}

EvalRecord eval_record(const EvalCell& cell) {
  const double tasks = static_cast<double>(cell.tasks.size());
  return {cell.method,
          cell.d,
          cell.k,
          cell.n,
          aggregate(cell.tasks),
          tasks > 0 ? cell.seconds / tasks : 0.0};
}

std::vector<EvalRecord> evaluate(const std::vector<Estimator>& estimators,
                                 const EvalSettings& settings) {
  std::vector<EvalRecord> records;
  for (const EvalCell& cell : evaluate_tasks(estimators, settings)) {
    records.push_back(eval_record(cell));
  }
  return records;
}

namespace {
// "failed: METHOD: REASON (T tasks)", summed over the records, in order of first appearance.
void print_failure_reasons(std::ostream& os, const std::vector<EvalRecord>& records) {
  std::vector<std::pair<std::string, std::string>> order;  // (method, reason)
  std::map<std::pair<std::string, std::string>, int64_t> tasks;
  for (const auto& r : records) {
    for (const auto& [reason, count] : r.metrics.failure_reasons) {
      const auto key = std::make_pair(r.method, reason);
      if (tasks[key] == 0) order.push_back(key);
      tasks[key] += count;
    }
  }
  for (const auto& key : order) {
    os << "failed: " << key.first << ": " << key.second << " (" << tasks[key] << " tasks)\n";
  }
}
}  // namespace

void print_table(std::ostream& os, const std::vector<EvalRecord>& records) {
  int method_width = 10;  // wider for a longer name (em-paper-diag)
  bool scales = false;    // a scale-error column when some record has one
  for (const auto& r : records) {
    method_width = std::max(method_width, static_cast<int>(r.method.size()));
    scales |= r.metrics.scale_error.count > 0;
  }
  char line[320];
  std::snprintf(line, sizeof line, "%-*s %3s %2s %4s  %-19s %9s %9s %8s %6s %9s %9s", method_width,
                "method", "d", "K", "N", "l2_error (+-std)", "mean_err", "weight_err", "loglik",
                "acc", "failed", "ms/task");
  os << line << (scales ? "  scale_err\n" : "\n");
  for (const auto& r : records) {
    const MetricsSummary& m = r.metrics;
    const std::string failed = std::to_string(m.failures) + "/" + std::to_string(m.tasks);
    if (m.l2_error.count == 0) {
      std::snprintf(line, sizeof line, "%-*s %3lld %2lld %4lld  %-19s %9s %9s %8s %6s %9s %9.3f",
                    method_width, r.method.c_str(), static_cast<long long>(r.d),
                    static_cast<long long>(r.k), static_cast<long long>(r.n), "-", "-", "-", "-",
                    "-", failed.c_str(), 1e3 * r.seconds_per_task);
    } else {
      std::snprintf(line, sizeof line,
                    "%-*s %3lld %2lld %4lld  %8.4f +- %-7.4f %9.4f %9.5f %8.3f %6.3f %9s %9.3f",
                    method_width, r.method.c_str(), static_cast<long long>(r.d),
                    static_cast<long long>(r.k), static_cast<long long>(r.n), m.l2_error.mean,
                    m.l2_error.std, m.mean_error.mean, m.weight_error.mean, m.log_likelihood.mean,
                    m.accuracy.mean, failed.c_str(), 1e3 * r.seconds_per_task);
    }
    os << line;
    if (scales) {
      char cell[32];
      if (m.scale_error.count > 0) {
        std::snprintf(cell, sizeof cell, "  %9.5f", m.scale_error.mean);
      } else {
        std::snprintf(cell, sizeof cell, "  %9s", "-");
      }
      os << cell;
    }
    os << "\n";
  }
  print_failure_reasons(os, records);
}

nlohmann::json to_json(const EvalRecord& r) {
  nlohmann::json j = {{"method", r.method},
                      {"d", r.d},
                      {"K", r.k},
                      {"N", r.n},
                      {"failures", r.metrics.failures},
                      {"tasks", r.metrics.tasks},
                      {"seconds_per_task", r.seconds_per_task}};
  auto put = [&](const std::string& key, const Summary& s) {
    auto value = [&](double v) { return s.count > 0 ? nlohmann::json(v) : nlohmann::json(); };
    j[key] = value(s.mean);
    j[key + "_std"] = value(s.std);
    j[key + "_median"] = value(s.median);
  };
  put("mean_error", r.metrics.mean_error);
  put("weight_error", r.metrics.weight_error);
  put("l2_error", r.metrics.l2_error);
  put("log_likelihood", r.metrics.log_likelihood);
  put("accuracy", r.metrics.accuracy);
  if (r.metrics.scale_error.count > 0) put("scale_error", r.metrics.scale_error);
  if (r.metrics.failures > 0) j["failure_reasons"] = r.metrics.failure_reasons;
  return j;
}

nlohmann::json to_json(const std::vector<EvalRecord>& records) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : records) j.push_back(to_json(r));
  return j;
}

}  // namespace tg::gmm
