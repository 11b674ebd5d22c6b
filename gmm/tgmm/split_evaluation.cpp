// split_evaluation.cpp — evaluation tasks split over processes, metrics gathered (see
// split_evaluation.h).
//
// What travels: per process, for each cell in evaluate_tasks' order, [tasks, seconds] and then
// per task [ok, mean_error, weight_error, l2_error, log_likelihood, accuracy, has_scale_error,
// scale_error] (a failed task's reason stays behind: the records count failures, they do not
// list them).
#include "gmm/tgmm/split_evaluation.h"

#include <stdexcept>

namespace tg::gmm {

namespace {

constexpr size_t kValuesPerTask = 8;

std::vector<double> pack(const std::vector<EvalCell>& cells) {
  std::vector<double> v;
  for (const EvalCell& cell : cells) {
    v.push_back(static_cast<double>(cell.tasks.size()));
    v.push_back(cell.seconds);
    for (const TaskMetrics& t : cell.tasks) {
      v.insert(v.end(),
               {t.ok ? 1.0 : 0.0, t.mean_error, t.weight_error, t.l2_error, t.log_likelihood,
                t.accuracy, t.scale_error ? 1.0 : 0.0, t.scale_error.value_or(0.0)});
    }
  }
  return v;
}

// Appends one process's packed cells (from values[at]) to `cells`; returns the next position.
size_t unpack_into(std::vector<EvalCell>& cells, const std::vector<double>& values, size_t at) {
  for (EvalCell& cell : cells) {
    const size_t tasks = static_cast<size_t>(values.at(at));
    cell.seconds += values.at(at + 1);
    at += 2;
    for (size_t i = 0; i < tasks; ++i, at += kValuesPerTask) {
      TaskMetrics t;
      t.ok = values.at(at) != 0.0;
      t.mean_error = values.at(at + 1);
      t.weight_error = values.at(at + 2);
      t.l2_error = values.at(at + 3);
      t.log_likelihood = values.at(at + 4);
      t.accuracy = values.at(at + 5);
      if (values.at(at + 6) != 0.0) t.scale_error = values.at(at + 7);
      if (!t.ok) t.failure = "failed";
      cell.tasks.push_back(t);
    }
  }
  return at;
}

}  // namespace

std::vector<EvalRecord> evaluate_split(const std::vector<Estimator>& estimators,
                                       const EvalSettings& settings, const nn::Communicator& comm) {
  if (!comm.distributed()) return evaluate(estimators, settings);
  const std::vector<EvalCell> mine = evaluate_tasks(estimators, settings, comm.rank(), comm.size());
  const std::vector<double> all = comm.gather(pack(mine));
  if (!comm.is_root()) return {};
  std::vector<EvalCell> cells = mine;  // the layout (method, d, K, N), emptied
  for (EvalCell& cell : cells) cell.tasks.clear(), cell.seconds = 0;
  size_t at = 0;
  for (int rank = 0; rank < comm.size(); ++rank) at = unpack_into(cells, all, at);
  if (at != all.size()) throw std::logic_error("evaluate_split: gathered metrics left over");
  std::vector<EvalRecord> records;
  for (const EvalCell& cell : cells) records.push_back(eval_record(cell));
  return records;
}

}  // namespace tg::gmm
