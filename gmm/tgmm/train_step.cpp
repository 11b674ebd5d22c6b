// train_step.cpp — one TGMM optimiser step (see train_step.h for the phases).
#include "gmm/tgmm/train_step.h"

#include <cmath>

#include "nn/clip.h"
#include "tensor/profiler.h"

namespace tg::gmm {

namespace {

// The lowest rank for which `bad` holds (every process calls it; size() when none).
int lowest_rank(const nn::Communicator& comm, bool bad) {
  return static_cast<int>(comm.allreduce_min(bad ? comm.rank() : comm.size()));
}

// The step on one process (split == nullptr) or on this process's block of a split step.
StepResult run_step(TgmmModel& model, nn::AdamW& optimizer, const TaskBatch& batch,
                    LossKind loss_kind, double clip, const StepSplit* split) {
  StepResult r;
  // 1. sample tasks: drawn by the caller; this lap charges that time and the mask's to it
  const Tensor valid = batch.valid_mask(model.config().dtype);
  profile::lap("sample tasks", "data");

  // 2. forward and loss
  const TgmmLoss loss =
      forward_loss(model, batch, valid, loss_kind, split ? split->tasks_in_step : 0);
  r.loss = loss.loss.item();
  r.weight_loss = loss.weight_loss;
  r.mean_loss = loss.mean_loss;
  r.scale_loss = loss.scale_loss;
  // The loss and its parts read back to the host (on a GPU: the wait for the forward's
  // kernels). The slot matching inside tgmm_loss laps its own bucket, "slot matching".
  profile::lap("loss readback", "loss and engine");
  const bool own_loss_finite = std::isfinite(r.loss);
  if (split) {  // the step's loss: the sum of every process's share
    std::vector<double> parts = {r.loss, r.weight_loss, r.mean_loss, r.scale_loss.value_or(0.0)};
    split->comm.allreduce_sum(parts);
    r.loss = parts[0], r.weight_loss = parts[1], r.mean_loss = parts[2];
    if (r.scale_loss) r.scale_loss = parts[3];
    profile::lap("loss allreduce", "communication");
  }
  if (!std::isfinite(r.loss)) {
    r.status = StepResult::LossNotFinite;
    if (split) r.failed_rank = lowest_rank(split->comm, !own_loss_finite);
    return r;
  }

  // 3. backward
  optimizer.zero_grad();
  profile::lap("zero grad", "optimizer");
  loss.loss.backward();

  // 4. gradient reduction: the sum over processes
  if (split) {
    split->reducer.reduce(model.named_parameters());
    profile::lap("gradient allreduce", "communication");
  }

  // 5. clip
  r.grad_norm = clip_gradients(model, clip);
  profile::lap("clip grad norm", "optimizer");
  if (!std::isfinite(r.grad_norm)) {
    r.status = StepResult::GradNotFinite;
    if (split) r.failed_rank = lowest_rank(split->comm, !split->reducer.local_gradients_finite());
    return r;
  }

  // 6. AdamW
  optimizer.step();
  profile::lap("adamw", "optimizer");
  return r;
}

}  // namespace

TgmmLoss forward_loss(const TgmmModel& model, const TaskBatch& batch, const Tensor& valid,
                      LossKind loss_kind, int64_t tasks_in_step) {
  const TgmmOutput out = model.forward(batch.x, batch.ks, valid);
  return tgmm_loss(out, batch, loss_kind, tasks_in_step);
}

double clip_gradients(const TgmmModel& model, double clip) {
  return clip > 0 ? nn::clip_grad_norm(model.named_parameters(), clip)
                  : nn::grad_norm(model.parameters());
}

StepResult train_step(TgmmModel& model, nn::AdamW& optimizer, const TaskBatch& batch,
                      LossKind loss_kind, double clip) {
  return run_step(model, optimizer, batch, loss_kind, clip, nullptr);
}

StepResult train_step(TgmmModel& model, nn::AdamW& optimizer, const TaskBatch& batch,
                      LossKind loss_kind, double clip, const StepSplit& split) {
  return run_step(model, optimizer, batch, loss_kind, clip, &split);
}

}  // namespace tg::gmm
