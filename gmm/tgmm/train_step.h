// train_step.h — one TGMM optimiser step on one batch of tasks (TrainingRun::step runs it).
//
// The phases of a step, in order (the batch itself, phase 1, is drawn by the caller):
//   1. sample tasks         TrainingRun::step draws the step's tasks from the data generator
//   2. forward and loss     every task at once, the loss with slot matching (forward_loss)
//   3. backward             old gradients zeroed, the loss's gradients left in the parameters
//   4. gradient reduction   a data-parallel run (StepSplit) sums the gradients over its
//                           processes (nn/data_parallel.h): each process holds a block of the
//                           step's tasks and divides its loss by the step's task count, so the
//                           sum is the gradient of the mean loss over the whole step
//   5. clip                 the global gradient norm, clipped when clip > 0 (clip_gradients)
//   6. AdamW                at the optimizer's current learning rate
// A loss or gradient norm that is not finite stops the step before the parameters change (the
// caller decides what to do: the trainer stops and keeps its last checkpoint). In a data-parallel
// run both checks are collective: the logged loss is the sum of the processes' losses, the
// gradient norm that of the summed gradients, so every process stops at the same step, and the
// result names the lowest rank whose own loss or gradients were not finite. Clipping and AdamW
// then run identically on every process. Each phase laps the profiler (tensor/profiler.h), so
// tools/bench can say where a step's time goes (phase 4 and the loss's sum: "communication").
#pragma once
#include <optional>

#include "gmm/mixture/tasks.h"
#include "gmm/tgmm/tgmm.h"
#include "gmm/tgmm/tgmm_loss.h"
#include "nn/data_parallel.h"
#include "nn/distributed.h"
#include "nn/optim.h"

namespace tg::gmm {

struct StepResult {
  enum Status { Ok, LossNotFinite, GradNotFinite };
  Status status = Ok;
  double loss = 0, weight_loss = 0, mean_loss = 0;
  std::optional<double> scale_loss;  // a diagonal model's
  double grad_norm = 0;              // before clipping
  int failed_rank = 0;  // when not Ok: the process whose own loss or gradients were not finite
};

// A step split over processes: this process's batch is its block of the step's tasks.
struct StepSplit {
  const nn::Communicator& comm;
  nn::GradientReducer& reducer;
  int64_t tasks_in_step;  // over every process
};

// Phase 2: the model on every task of `batch` (valid: batch.valid_mask) and the loss, its sums
// over tasks divided by tasks_in_step (0: the batch's own count; tgmm_loss.h).
TgmmLoss forward_loss(const TgmmModel& model, const TaskBatch& batch, const Tensor& valid,
                      LossKind loss_kind, int64_t tasks_in_step = 0);
// Phase 5: the global L2 norm of the gradients before clipping; clip > 0 scales them down to
// at most `clip`.
double clip_gradients(const TgmmModel& model, double clip);

// Phases 2 to 6 at the optimizer's current learning rate, on one process (the batch is the
// whole step; no phase 4).
StepResult train_step(TgmmModel& model, nn::AdamW& optimizer, const TaskBatch& batch,
                      LossKind loss_kind, double clip);
// The same step split over processes: every process calls it with its block of the step's tasks.
StepResult train_step(TgmmModel& model, nn::AdamW& optimizer, const TaskBatch& batch,
                      LossKind loss_kind, double clip, const StepSplit& split);

}  // namespace tg::gmm
