// split_evaluation.h — the evaluation harness (gmm/mixture/evaluate.h) with its tasks split over
// the processes of a data-parallel run.
//
// Each process scores its block of every (K, N) batch (evaluate_tasks with part = rank, parts =
// size: exactly those tasks of the whole batch); the per-task metrics are gathered to rank 0,
// which concatenates them in task order and aggregates each (K, N, method) as evaluate() does —
// the same records as one process would compute, up to the order of floating-point sums inside
// the estimator (a batch of other tasks around a task). seconds_per_task is the processes' summed
// estimator time over the tasks: the time per task one process would spend. Only for estimators
// that do not draw from their generator (TGMM; evaluate.h says why).
#pragma once
#include <vector>

#include "gmm/mixture/evaluate.h"
#include "nn/distributed.h"

namespace tg::gmm {

// On rank 0 the records (evaluate()'s, exactly, with one process); on the others, empty. Every
// process calls it.
std::vector<EvalRecord> evaluate_split(const std::vector<Estimator>& estimators,
                                       const EvalSettings& settings, const nn::Communicator& comm);

}  // namespace tg::gmm
