// train_step.cpp — one TGMM optimiser step (see train_step.h for the phases).
#include "gmm/tgmm/train_step.h"

#include <cmath>

#include "nn/clip.h"
#include "tensor/profiler.h"

namespace tg::gmm {

TgmmLoss forward_loss(const TgmmModel& model, const TaskBatch& batch, const Tensor& valid,
                      LossKind loss_kind) {
  const TgmmOutput out = model.forward(batch.x, batch.ks, valid);
  return tgmm_loss(out, batch, loss_kind);
}

double clip_gradients(const TgmmModel& model, double clip) {
  return clip > 0 ? nn::clip_grad_norm(model.named_parameters(), clip)
                  : nn::grad_norm(model.parameters());
}

StepResult train_step(TgmmModel& model, nn::AdamW& optimizer, const TaskBatch& batch,
                      LossKind loss_kind, double clip) {
  StepResult r;
  // 1. sample tasks: drawn by the caller; this lap charges that time and the mask's to it
  const Tensor valid = batch.valid_mask(model.config().dtype);
  profile::lap("sample tasks", "data");

  // 2. forward and loss
  const TgmmLoss loss = forward_loss(model, batch, valid, loss_kind);
  r.loss = loss.loss.item();
  r.weight_loss = loss.weight_loss;
  r.mean_loss = loss.mean_loss;
  r.scale_loss = loss.scale_loss;
  // The loss and its two parts read back to the host (on a GPU: the wait for the forward's
  // kernels). The slot matching inside tgmm_loss laps its own bucket, "slot matching".
  profile::lap("loss readback", "loss and engine");
  if (!std::isfinite(r.loss)) {
    r.status = StepResult::LossNotFinite;
    return r;
  }

  // 3. backward
  optimizer.zero_grad();
  profile::lap("zero grad", "optimizer");
  loss.loss.backward();

  // 4. (a data-parallel run all-reduces the gradients here)

  // 5. clip
  r.grad_norm = clip_gradients(model, clip);
  profile::lap("clip grad norm", "optimizer");
  if (!std::isfinite(r.grad_norm)) {
    r.status = StepResult::GradNotFinite;
    return r;
  }

  // 6. AdamW
  optimizer.step();
  profile::lap("adamw", "optimizer");
  return r;
}

}  // namespace tg::gmm
