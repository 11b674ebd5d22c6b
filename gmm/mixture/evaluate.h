// evaluate.h — the evaluation harness: every estimator on the same tasks, for each (K, N).
//
// An Estimator is a name and a function from a TaskBatch (reading only x, lengths, ks) to one
// Estimate per task. The built-ins wrap EM and the spectral method; the TGMM model plugs in the
// same way. An estimator that assumes unit-variance components (the spectral method: its
// moment equations hold only for covariance I) is not run on anisotropic tasks: each task is a
// failure saying so. evaluate() draws, for each K in settings.ks and N in settings.ns, one batch of
// `tasks` fresh tasks (full length, no padding, f64) from a seed derived from (seed, K, N) only,
// runs every estimator on it (each with a generator derived from (seed, K, N, its name), so adding
// or reordering methods changes no result), scores each task in-sample (metrics.h) and
// aggregates. A record's d is the dimension its tasks had (settings.d, or derived from N for the
// phase transition with phase_b > 0).
//
// JSON (a contract: TGMM's eval.json uses the same keys), one object per record:
//   {"method", "d", "K", "N", "mean_error", "weight_error", "l2_error", "log_likelihood",
//    "accuracy", "failures", "tasks", "seconds_per_task",
//    "<metric>_std", "<metric>_median" for each of the five metrics}
// Metric values are means over the successful tasks; null when every task failed. Records whose
// estimates have scales (diagonal-covariance estimators) add "scale_error", "scale_error_std"
// and "scale_error_median" (metrics.h); the other records do not have these keys. Records with
// failures add "failure_reasons": {reason: tasks}.
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gmm/mixture/em.h"
#include "gmm/mixture/metrics.h"
#include "gmm/mixture/tasks.h"

namespace tg::gmm {

struct Estimator {
  std::string name;
  std::function<std::vector<Estimate>(const TaskBatch&, Generator&)> fit;
  bool needs_unit_variance = false;  // true: refused (failures) on anisotropic tasks
};

Estimator em_estimator(const std::string& name, const EmOptions& options);
Estimator em_paper_estimator();                          // "em-paper"
Estimator em_strong_estimator(int64_t restarts = 10);    // "em-strong"
Estimator em_paper_diagonal_estimator();                 // "em-paper-diag": paper, diagonal
Estimator em_diagonal_estimator(int64_t restarts = 10);  // "em-diag": strong, diagonal covariance
Estimator spectral_estimator();                          // "spectral" (needs unit variance)
// One of the names above; throws (naming builtin_estimator) for any other.
Estimator builtin_estimator(const std::string& name);
std::vector<std::string> builtin_estimator_names();

// An EmResult as one Estimate per task (slots beyond each task's K dropped); a task whose
// weights or means are not finite (points too large for double precision) is a failed estimate.
std::vector<Estimate> em_estimates(const EmResult& result, const Tensor& ks);

struct EvalSettings {
  int64_t d = 2;
  std::vector<int64_t> ks = {2, 3, 4, 5};
  std::vector<int64_t> ns = {32, 64, 128};
  int64_t tasks = 128;  // per (K, N)
  uint64_t seed = 0;
  Shift shift = Shift::None;
  double perturbation_std = 0.0;  // Shift::MeanPerturbation
  double phase_a = 1.0;           // Shift::PhaseTransition
  double phase_b = 0.0;           // Shift::PhaseTransition: > 0 gives d = floor(b N ln N) at each N
                                  // (phase_transition_dimension) in place of `d`; 0 keeps `d`
};

struct EvalRecord {
  std::string method;
  int64_t d = 0, k = 0, n = 0;
  MetricsSummary metrics;
  double seconds_per_task = 0;  // the estimator's wall time on the batch / tasks
};

std::vector<EvalRecord> evaluate(const std::vector<Estimator>& estimators,
                                 const EvalSettings& settings);

// The harness in two halves, for processes that each score a share of the tasks (a data-parallel
// run: gmm/tgmm/split_evaluation.h). evaluate_tasks scores, for each (K, N) and estimator in
// evaluate()'s order, only the tasks at positions split_range(settings.tasks, part, parts) of
// that (K, N) batch — exactly those tasks of the whole batch (sample_tasks with a range) — and
// returns their per-task metrics; eval_record aggregates one cell into evaluate()'s record.
// evaluate() is evaluate_tasks over the whole batch, each cell through eval_record. An estimator
// that draws from its generator (EM's initialisations) would draw differently on a share than on
// the whole batch: only split deterministic ones (TGMM).
struct EvalCell {
  std::string method;
  int64_t d = 0, k = 0, n = 0;
  std::vector<TaskMetrics> tasks;  // the share's tasks, in task order
  double seconds = 0;              // the estimator's wall time on them (0 for an empty share)
};
std::vector<EvalCell> evaluate_tasks(const std::vector<Estimator>& estimators,
                                     const EvalSettings& settings, int part = 0, int parts = 1);
// aggregate(cell.tasks); seconds_per_task = seconds / tasks.
EvalRecord eval_record(const EvalCell& cell);

// One row per record: method, d, K, N, l2 error (mean +- std), mean error, weight error,
// log-likelihood, accuracy, failures/tasks, milliseconds per task; and a scale-error column
// when some record has scale errors ("-" for the records without). Under the rows, one line per
// method and failure reason: "failed: METHOD: REASON (T tasks)".
void print_table(std::ostream& os, const std::vector<EvalRecord>& records);
nlohmann::json to_json(const EvalRecord& record);
nlohmann::json to_json(const std::vector<EvalRecord>& records);

}  // namespace tg::gmm
