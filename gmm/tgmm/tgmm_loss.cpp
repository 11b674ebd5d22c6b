// tgmm_loss.cpp — see tgmm_loss.h.
#include "gmm/tgmm/tgmm_loss.h"

#include <numeric>
#include <stdexcept>

#include "autograd/ops.h"
#include "gmm/mixture/hungarian.h"
#include "tensor/profiler.h"

namespace tg::gmm {

const char* loss_kind_name(LossKind kind) {
  return kind == LossKind::Sorted ? "sorted" : "hungarian";
}

LossKind parse_loss_kind(const std::string& name) {
  if (name == "sorted") return LossKind::Sorted;
  if (name == "hungarian") return LossKind::Hungarian;
  throw std::invalid_argument("unknown loss '" + name + "' (expected sorted or hungarian)");
}

SlotTargets slot_targets(const TgmmOutput& output, const TaskBatch& batch, LossKind kind) {
  const DType dt = output.means.dtype();
  const Device dev = output.means.device();  // targets go where the model's outputs are
  SlotTargets t{batch.weights.to(dt).to(dev), batch.means.to(dt).to(dev)};
  if (kind == LossKind::Sorted) return t;

  const int64_t B = batch.batch_size(), Km = batch.k_max(), d = batch.d();
  // The matching runs on the host: (B, Kmax, d) predictions come back from the device if needed.
  const Tensor pred = output.means.value().to(Device::CPU).to(DType::F64).contiguous();
  const Tensor truth_mu = batch.means.to(DType::F64).contiguous();    // (B, Kmax, d)
  const Tensor truth_pi = batch.weights.to(DType::F64).contiguous();  // (B, Kmax)
  Tensor w = zeros({B, Km}, DType::F64), m = zeros({B, Km, d}, DType::F64);
  const double* pm = pred.data<double>();
  const double* tm = truth_mu.data<double>();
  const double* tp = truth_pi.data<double>();
  double* wm = w.data<double>();
  double* mm = m.data<double>();
  for (int64_t b = 0; b < B; ++b) {
    const int64_t K = batch.k(b);
    // A non-finite prediction (a diverged model) keeps the sorted order: the loss is then
    // non-finite too, and the trainer stops on it with its own message.
    std::vector<int64_t> sorted(K);  // slot i <- component i
    std::iota(sorted.begin(), sorted.end(), 0);
    const std::vector<int64_t> assignment =  // slot i <- component assignment[i]
        match_means(pm + b * Km * d, tm + b * Km * d, K, d).value_or(sorted);
    for (int64_t i = 0; i < K; ++i) {
      const int64_t j = assignment[i];
      wm[b * Km + i] = tp[b * Km + j];
      for (int64_t e = 0; e < d; ++e) mm[(b * Km + i) * d + e] = tm[(b * Km + j) * d + e];
    }
  }
  return {w.to(dt).to(dev), m.to(dt).to(dev)};
}

TgmmLoss tgmm_loss(const TgmmOutput& output, const TaskBatch& batch, LossKind kind,
                   int64_t tasks_in_step) {
  const DType dt = output.means.dtype();
  const int64_t d = batch.d();
  const SlotTargets target = slot_targets(output, batch, kind);
  profile::lap("slot matching", "loss and engine");  // the targets, matched on the host
  const Tensor mask = batch.component_mask.to(dt).to(output.means.device());  // (B, Kmax)
  const Tensor k = sum(mask, {1});  // (B) components per task

  // -sum_k pi_k log pi_hat_k; slots >= K have pi_k = 0 and a finite log pi_hat_k.
  ag::Variable weight_loss =
      -ag::sum(ag::Variable(target.weights) * output.log_weights, {1});  // (B)
  ag::Variable sq =
      ag::sum(ag::square(output.means - ag::Variable(target.means)), {2});  // (B, Kmax)
  ag::Variable mean_loss =
      ag::sum(sq * ag::Variable(mask), {1}) / ag::Variable(mul_scalar(k, double(d)));  // (B)
  if (tasks_in_step == 0 || tasks_in_step == batch.batch_size()) {
    ag::Variable loss = ag::mean(weight_loss + mean_loss);
    return {loss, mean(weight_loss.value()).item(), mean(mean_loss.value()).item()};
  }
  // A share of the step: sums over this batch's tasks, divided by the step's task count.
  const double scale = 1.0 / static_cast<double>(tasks_in_step);
  ag::Variable loss = ag::sum(weight_loss + mean_loss) * scale;
  return {loss, sum(weight_loss.value()).item() * scale, sum(mean_loss.value()).item() * scale};
}

}  // namespace tg::gmm
