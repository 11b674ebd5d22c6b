// train_step.h — one TGMM optimiser step on one batch of tasks (TrainingRun::step runs it).
//
// The phases of a step, in order (the batch itself, phase 1, is drawn by the caller):
//   1. sample tasks         TrainingRun::step draws the step's tasks from the data generator
//   2. forward and loss     every task at once, the loss with slot matching (forward_loss)
//   3. backward             old gradients zeroed, the loss's gradients left in the parameters
//   4. [gradient reduction] where a data-parallel run would all-reduce the gradients, averaged
//                           over processes (each holding an equal share of the tasks, so the
//                           average is the gradient of the loss over the whole batch)
//   5. clip                 the global gradient norm, clipped when clip > 0 (clip_gradients)
//   6. AdamW                at the optimizer's current learning rate
// A loss or gradient norm that is not finite stops the step before the parameters change (the
// caller decides what to do: the trainer stops and keeps its last checkpoint). Each phase laps
// the profiler (tensor/profiler.h), so tools/bench can say where a step's time goes.
#pragma once
#include <optional>

#include "gmm/mixture/tasks.h"
#include "gmm/tgmm/tgmm.h"
#include "gmm/tgmm/tgmm_loss.h"
#include "nn/optim.h"

namespace tg::gmm {

struct StepResult {
  enum Status { Ok, LossNotFinite, GradNotFinite };
  Status status = Ok;
  double loss = 0, weight_loss = 0, mean_loss = 0;
  std::optional<double> scale_loss;  // a diagonal model's
  double grad_norm = 0;              // before clipping
};

// Phase 2: the model on every task of `batch` (valid: batch.valid_mask) and the loss.
TgmmLoss forward_loss(const TgmmModel& model, const TaskBatch& batch, const Tensor& valid,
                      LossKind loss_kind);
// Phase 5: the global L2 norm of the gradients before clipping; clip > 0 scales them down to
// at most `clip`.
double clip_gradients(const TgmmModel& model, double clip);

// Phases 2 to 6 at the optimizer's current learning rate.
StepResult train_step(TgmmModel& model, nn::AdamW& optimizer, const TaskBatch& batch,
                      LossKind loss_kind, double clip);

}  // namespace tg::gmm
