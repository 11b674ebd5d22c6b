// evaluate.cpp — built-in estimators, the evaluation loop, table and JSON (see evaluate.h).
#include "gmm/mixture/evaluate.h"

#include <chrono>
#include <cmath>
#include <cstdio>
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
Estimator em_diagonal_estimator(int64_t restarts) {
  EmOptions options = EmOptions::strong(restarts);
  options.covariance = Covariance::Diagonal;
  return em_estimator("em-diag", options);
}

Estimator spectral_estimator() {
  return {"spectral", [](const TaskBatch& batch, Generator& gen) {
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
          }};
}

std::vector<std::string> builtin_estimator_names() {
  return {"em-paper", "em-strong", "em-diag", "spectral"};
}

Estimator builtin_estimator(const std::string& name) {
  if (name == "em-paper") return em_paper_estimator();
  if (name == "em-strong") return em_strong_estimator();
  if (name == "em-diag") return em_diagonal_estimator();
  if (name == "spectral") return spectral_estimator();
  throw std::invalid_argument("builtin_estimator: unknown method '" + name +
                              "' (expected em-paper, em-strong, em-diag or spectral)");
}

std::vector<EvalRecord> evaluate(const std::vector<Estimator>& estimators,
                                 const EvalSettings& settings) {
  if (settings.tasks < 1) throw std::invalid_argument("evaluate: tasks must be >= 1");
  if (!(settings.phase_b >= 0)) throw std::invalid_argument("evaluate: phase_b must be >= 0");
  std::vector<EvalRecord> records;
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
      const TaskBatch batch = sample_tasks(config, task_gen);
      const int64_t B = batch.batch_size();

      for (const Estimator& estimator : estimators) {
        Generator gen(derive_seed(
            settings.seed,
            {static_cast<uint64_t>(k), static_cast<uint64_t>(n), name_hash(estimator.name)}));
        const auto start = std::chrono::steady_clock::now();
        const std::vector<Estimate> estimates = estimator.fit(batch, gen);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (static_cast<int64_t>(estimates.size()) != B) {
          throw std::runtime_error("evaluate: estimator " + estimator.name + " returned " +
                                   std::to_string(estimates.size()) + " estimates for " +
                                   std::to_string(B) + " tasks");
        }
        std::vector<TaskMetrics> per_task(B);
        for (int64_t b = 0; b < B; ++b) {
          per_task[b] = task_metrics(estimates[b], task_weights(batch, b), task_means(batch, b),
                                     task_points(batch, b), task_labels(batch, b));
        }
        records.push_back({estimator.name, config.d, k, n, aggregate(per_task),
                           seconds / static_cast<double>(B)});
      }
    }
  }
  return records;
}

void print_table(std::ostream& os, const std::vector<EvalRecord>& records) {
  char line[256];
  std::snprintf(line, sizeof line, "%-10s %3s %2s %4s  %-19s %9s %9s %8s %6s %9s %9s\n", "method",
                "d", "K", "N", "l2_error (+-std)", "mean_err", "weight_err", "loglik", "acc",
                "failed", "ms/task");
  os << line;
  for (const auto& r : records) {
    const MetricsSummary& m = r.metrics;
    const std::string failed = std::to_string(m.failures) + "/" + std::to_string(m.tasks);
    if (m.l2_error.count == 0) {
      std::snprintf(line, sizeof line, "%-10s %3lld %2lld %4lld  %-19s %9s %9s %8s %6s %9s %9.3f\n",
                    r.method.c_str(), static_cast<long long>(r.d), static_cast<long long>(r.k),
                    static_cast<long long>(r.n), "-", "-", "-", "-", "-", failed.c_str(),
                    1e3 * r.seconds_per_task);
    } else {
      std::snprintf(line, sizeof line,
                    "%-10s %3lld %2lld %4lld  %8.4f +- %-7.4f %9.4f %9.5f %8.3f %6.3f %9s %9.3f\n",
                    r.method.c_str(), static_cast<long long>(r.d), static_cast<long long>(r.k),
                    static_cast<long long>(r.n), m.l2_error.mean, m.l2_error.std, m.mean_error.mean,
                    m.weight_error.mean, m.log_likelihood.mean, m.accuracy.mean, failed.c_str(),
                    1e3 * r.seconds_per_task);
    }
    os << line;
  }
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
  return j;
}

nlohmann::json to_json(const std::vector<EvalRecord>& records) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : records) j.push_back(to_json(r));
  return j;
}

}  // namespace tg::gmm
