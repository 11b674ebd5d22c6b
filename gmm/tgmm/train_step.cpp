// train_step.cpp — one TGMM optimiser step (see train_step.h).
#include "gmm/tgmm/train_step.h"

#include <cmath>

#include "nn/clip.h"
#include "tensor/profiler.h"

namespace tg::gmm {

Tensor valid_mask(const TaskBatch& batch, DType dtype) {
  const Tensor positions = arange(batch.n(), DType::F64).unsqueeze(0);              // (1, N)
  const Tensor lengths = batch.lengths.to(DType::F64).unsqueeze(1);                 // (B, 1)
  return lt(positions.expand({batch.batch_size(), batch.n()}), lengths).to(dtype);  // (B, N)
}

StepResult train_step(TgmmModel& model, nn::AdamW& optimizer, const TaskBatch& batch,
                      LossKind loss_kind, double clip) {
  StepResult r;
  const Tensor valid = valid_mask(batch, model.config().dtype);
  profile::lap("valid mask", "data");  // (the batch itself was drawn before the step)
  const TgmmOutput out = model.forward(batch.x, batch.ks, valid);
  const TgmmLoss loss = tgmm_loss(out, batch, loss_kind);
  r.loss = loss.loss.item();
  r.weight_loss = loss.weight_loss;
  r.mean_loss = loss.mean_loss;
  // The loss and its two parts read back to the host (on a GPU: the wait for the forward's
  // kernels). The slot matching ran inside tgmm_loss, before the loss's first op: its time is in
  // that op's bucket.
  profile::lap("loss readback", "loss and engine");
  if (!std::isfinite(r.loss)) {
    r.status = StepResult::LossNotFinite;
    return r;
  }
  optimizer.zero_grad();
  profile::lap("zero grad", "optimizer");
  loss.loss.backward();
  r.grad_norm = clip > 0 ? nn::clip_grad_norm(model.named_parameters(), clip)
                         : nn::grad_norm(model.parameters());
  profile::lap("clip grad norm", "optimizer");
  if (!std::isfinite(r.grad_norm)) {
    r.status = StepResult::GradNotFinite;
    return r;
  }
  optimizer.step();
  profile::lap("adamw", "optimizer");
  return r;
}

}  // namespace tg::gmm
