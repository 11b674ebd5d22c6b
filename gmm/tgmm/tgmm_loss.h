// tgmm_loss.h — the training loss of TGMM (docs/tgmm.md, "The loss"), with the slot-matching
// option.
//
// Per task with K components, true (pi, mu) and the model's (log pi_hat, mu_hat):
//   weight loss  -sum_k pi_k log pi_hat_k                 (soft-target cross-entropy)
//   mean loss    (1/K) sum_k (1/d) ||mu_hat_k - mu_k||^2   (over the K valid slots)
//   scale loss   (1/K) sum_k (1/d) ||sigma_hat_k - sigma_k||^2   (a diagonal model only; the
//                true per-coordinate scales sigma come from the batch, an anisotropic one)
// loss = mean over tasks of (weight loss + mean loss [+ scale loss]).
// In a data-parallel run each process holds a share of the step's tasks and divides the sum over
// its share by the step's task count (tasks_in_step), so that the processes' losses — and
// gradients — add up to the mean over the whole step (gmm/tgmm/train_step.h).
//
// Which true component slot k is trained against:
//   sorted     (the paper's) the k-th smallest weight — the order the sampler emits;
//   hungarian  (ours, an option) the component assigned to slot k by the Hungarian algorithm on
//              the cost (1/d)||mu_hat_i - mu_j||^2 of the current prediction (no gradient flows
//              through the matching); the scales follow the means' matching. Measured in
//              docs/results.md ("Recipe ablation"): this is what makes a small model learn; with
//              sorted targets the network predicts the centroid in every slot.
#pragma once
#include <optional>
#include <string>

#include "gmm/mixture/tasks.h"
#include "gmm/tgmm/tgmm.h"

namespace tg::gmm {

enum class LossKind { Sorted, Hungarian };
const char* loss_kind_name(LossKind kind);
LossKind parse_loss_kind(const std::string& name);  // "sorted" | "hungarian"

struct TgmmLoss {
  ag::Variable loss;   // () the mean over tasks of every term (over the step's, see above)
  double weight_loss;  // the terms' means over tasks, for logging (likewise)
  double mean_loss;
  std::optional<double> scale_loss;  // a diagonal model's
};

// The targets each slot is trained against: (B, Kmax) weights, (B, Kmax, d) means and, when the
// batch has them, (B, Kmax, d) scales, from the batch, permuted per task under
// LossKind::Hungarian.
struct SlotTargets {
  Tensor weights, means, scales;
};
SlotTargets slot_targets(const TgmmOutput& output, const TaskBatch& batch, LossKind kind);

// tasks_in_step: the count the sums over tasks are divided by; 0 means this batch's own (the
// mean over the batch, computed as such). Throws std::invalid_argument when the output has
// scales and the batch does not.
TgmmLoss tgmm_loss(const TgmmOutput& output, const TaskBatch& batch, LossKind kind,
                   int64_t tasks_in_step = 0);

}  // namespace tg::gmm
