// tgmm_loss.cpp — see tgmm_loss.h.
#include "gmm/tgmm/tgmm_loss.h"

#include <algorithm>
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

namespace {

// Per task, slot i <- true component assignment[b][i] (i < K): the Hungarian matching of the
// predicted means to the true ones, on the host in f64.
std::vector<std::vector<int64_t>> match_slots(const TgmmOutput& output, const TaskBatch& batch) {
  const int64_t B = batch.batch_size(), Km = batch.k_max(), d = batch.d();
  // (B, Kmax, d) predictions come back from the device if needed.
  const Tensor pred = output.means.value().to(Device::CPU).to(DType::F64).contiguous();
  const Tensor truth = batch.means.to(DType::F64).contiguous();  // (B, Kmax, d)
  std::vector<std::vector<int64_t>> assignments(B);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t K = batch.k(b);
    // A non-finite prediction (a diverged model) keeps the sorted order: the loss is then
    // non-finite too, and the trainer stops on it with its own message.
    std::vector<int64_t> sorted(K);  // slot i <- component i
    std::iota(sorted.begin(), sorted.end(), 0);
    assignments[b] =
        match_means(pred.data<double>() + b * Km * d, truth.data<double>() + b * Km * d, K, d)
            .value_or(sorted);
  }
  return assignments;
}

// truth (B, Kmax, ...) with each task's first K slots reordered: slot i <- slot assignment[b][i];
// zeros beyond K. In f64 on the host.
Tensor permute_slots(const Tensor& truth, const std::vector<std::vector<int64_t>>& assignments) {
  const Tensor t = truth.to(DType::F64).contiguous();
  const int64_t B = t.size(0), Km = t.size(1), row = t.numel() / std::max<int64_t>(1, B * Km);
  Tensor out = zeros(t.shape(), DType::F64);
  const double* src = t.data<double>();
  double* dst = out.data<double>();
  for (int64_t b = 0; b < B; ++b) {
    for (size_t i = 0; i < assignments[b].size(); ++i) {
      const int64_t j = assignments[b][i];
      std::copy(src + (b * Km + j) * row, src + (b * Km + j + 1) * row,
                dst + (b * Km + static_cast<int64_t>(i)) * row);
    }
  }
  return out;
}

// (1/K) sum over the K valid slots of (1/d) ||prediction - target||^2, per task: (B).
ag::Variable masked_mse(const ag::Variable& prediction, const Tensor& target, const Tensor& mask,
                        const Tensor& k) {
  const int64_t d = prediction.size(2);
  ag::Variable sq = ag::sum(ag::square(prediction - ag::Variable(target)), {2});  // (B, Kmax)
  return ag::sum(sq * ag::Variable(mask), {1}) / ag::Variable(mul_scalar(k, double(d)));
}

}  // namespace

SlotTargets slot_targets(const TgmmOutput& output, const TaskBatch& batch, LossKind kind) {
  const DType dt = output.means.dtype();
  const Device dev = output.means.device();  // targets go where the model's outputs are
  const auto placed = [&](const Tensor& t) { return t.defined() ? t.to(dt).to(dev) : Tensor(); };
  if (kind == LossKind::Sorted) {
    return {placed(batch.weights), placed(batch.means), placed(batch.scales)};
  }
  const std::vector<std::vector<int64_t>> assignments = match_slots(output, batch);
  const auto matched = [&](const Tensor& t) {
    return t.defined() ? placed(permute_slots(t, assignments)) : Tensor();
  };
  return {matched(batch.weights), matched(batch.means), matched(batch.scales)};
}

TgmmLoss tgmm_loss(const TgmmOutput& output, const TaskBatch& batch, LossKind kind,
                   int64_t tasks_in_step) {
  const DType dt = output.means.dtype();
  if (output.scales.defined() && !batch.scales.defined()) {
    throw std::invalid_argument(
        "tgmm_loss: the model estimates scales but the batch has none (a diagonal model trains "
        "on anisotropic tasks)");
  }
  const SlotTargets target = slot_targets(output, batch, kind);
  profile::lap("slot matching", "loss and engine");  // the targets, matched on the host
  const Tensor mask = batch.component_mask.to(dt).to(output.means.device());  // (B, Kmax)
  const Tensor k = sum(mask, {1});  // (B) components per task

  // -sum_k pi_k log pi_hat_k; slots >= K have pi_k = 0 and a finite log pi_hat_k.
  ag::Variable weight_loss =
      -ag::sum(ag::Variable(target.weights) * output.log_weights, {1});      // (B)
  ag::Variable mean_loss = masked_mse(output.means, target.means, mask, k);  // (B)
  ag::Variable total = weight_loss + mean_loss;
  std::optional<ag::Variable> scale_term;
  if (output.scales.defined()) {
    scale_term = masked_mse(output.scales, target.scales, mask, k);  // (B)
    total = total + *scale_term;
  }
  // The step's mean over tasks; a share of the step (a data-parallel run) divides the sum over
  // its own tasks by the step's task count.
  const bool whole_step = tasks_in_step == 0 || tasks_in_step == batch.batch_size();
  const double scale = whole_step ? 1.0 / static_cast<double>(batch.batch_size())
                                  : 1.0 / static_cast<double>(tasks_in_step);
  const auto reduce = [&](const ag::Variable& per_task) {
    return whole_step ? mean(per_task.value()).item() : sum(per_task.value()).item() * scale;
  };
  ag::Variable loss = whole_step ? ag::mean(total) : ag::sum(total) * scale;
  std::optional<double> scale_loss;
  if (scale_term) scale_loss = reduce(*scale_term);
  return {loss, reduce(weight_loss), reduce(mean_loss), scale_loss};
}

}  // namespace tg::gmm
