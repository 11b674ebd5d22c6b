// train_step.h — one TGMM optimiser step on one batch, shared by the trainer and tools/bench.
//
//   forward on every task at once -> loss (with slot matching) -> backward -> clip -> AdamW.
//
// A loss or gradient norm that is not finite stops the step before the parameters change (the
// caller decides what to do: the trainer stops and keeps its last checkpoint). Each phase laps
// the profiler (tensor/profiler.h), so tools/bench can say where a step's time goes.
#pragma once
#include "gmm/mixture/tasks.h"
#include "gmm/tgmm/tgmm.h"
#include "gmm/tgmm/tgmm_loss.h"
#include "nn/optim.h"

namespace tg::gmm {

// (B, N) 1/0 mask of the positions below each task's length, in `dtype`.
Tensor valid_mask(const TaskBatch& batch, DType dtype);

struct StepResult {
  enum Status { Ok, LossNotFinite, GradNotFinite };
  Status status = Ok;
  double loss = 0, weight_loss = 0, mean_loss = 0;
  double grad_norm = 0;  // before clipping
};

// One step at the optimizer's current learning rate. clip > 0 clips the global gradient norm.
StepResult train_step(TgmmModel& model, nn::AdamW& optimizer, const TaskBatch& batch,
                      LossKind loss_kind, double clip);

}  // namespace tg::gmm
