// tasks.h — the task sampler: Gaussian-mixture estimation tasks drawn from the paper's prior.
//
// One task is a mixture p(x) = sum_k pi_k N(x; mu_k, I) in R^d together with N points drawn from
// it. The prior (docs/tgmm.md, "The task prior"):
//   u_k ~ U(0.2, 0.8) i.i.d., sorted ascending, pi = u / sum(u)  (slot k = k-th smallest weight)
//   mu_k ~ U(-5, 5)^d, the whole set redrawn until every pair has cosine similarity < 0.8
//   z_n ~ Cat(pi), x_n = mu_{z_n} + N(0, I_d)
// A batch holds B tasks for EACH K in a list (tasks grouped by K, in list order), padded to
// K_max components with a component mask, and either the full N points per task (evaluation)
// or a training length L ~ U{floor(N/2), ..., N} per task, positions >= L being padding.
//
// Shift variants (robustness experiments):
//   MeanPerturbation  mu = U(-5,5)^d + N(0, s^2 I), then the same cosine filter
//   Anisotropic       x_n = mu_z + sigma_z * eps, sigma_{k,j} = 2 softplus(v_{k,j}), v ~ U(-1, 1)
//   PhaseTransition   K = 2, mu = c +- (Delta/2) u, u a uniform unit vector, c ~ N(0, Delta^2 I),
//                     Delta = sqrt((1 + sqrt(a)) ln N) (and d = floor(b N ln N), chosen by the
//                     caller with phase_transition_dimension); weights from the usual prior.
//
// Reproducibility: the batch is a function of the generator's state and the config only. Each
// task draws from its own Generator, seeded in task order from the caller's generator, so the
// result does not depend on the number of threads. The same seeding lets a process draw only a
// block of a batch's positions (a TaskRange: its share of a data-parallel step) and get exactly
// those tasks of the whole batch, the caller's generator advanced as by the whole draw.
//
// Dimension letters: B tasks in the batch, N points per task (padded length), d dimension,
// Kmax padded component count.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/ops.h"

namespace tg::gmm {

enum class Shift { None, MeanPerturbation, Anisotropic, PhaseTransition };

// "none", "perturb", "aniso", "phase" <-> Shift. parse_shift throws on an unknown name.
Shift parse_shift(const std::string& name);
const char* shift_name(Shift shift);

struct TaskConfig {
  int64_t d = 2;                           // dimension of the points
  std::vector<int64_t> ks = {2, 3, 4, 5};  // component counts; B tasks for each
  int64_t k_max = 0;                       // padded component count; 0 means max(ks)
  int64_t tasks_per_k = 64;                // B per K
  int64_t n = 128;                         // points per task (the padded length N)
  bool random_lengths = false;             // true (training): L ~ U{floor(N/2)..N}; false: L = N
  Shift shift = Shift::None;
  double perturbation_std = 0.0;  // s, for Shift::MeanPerturbation
  double phase_a = 1.0;           // a, for Shift::PhaseTransition
  DType dtype = DType::F32;       // dtype of x, weights, means, component_mask, scales

  // B, the tasks of a whole batch: tasks_per_k for each K.
  int64_t batch_size() const { return tasks_per_k * static_cast<int64_t>(ks.size()); }
};

// Every tensor is contiguous on the CPU; B = ks.size() * tasks_per_k.
struct TaskBatch {
  Tensor x;               // (B, N, d)     points; zeros at padding positions n >= lengths[b]
  Tensor lengths;         // (B)           i64, valid points per task
  Tensor weights;         // (B, Kmax)     true pi, ascending in the first K slots, 0 beyond
  Tensor means;           // (B, Kmax, d)  true mu, slot k matches weights[b, k]; 0 beyond K
  Tensor component_mask;  // (B, Kmax)     1 for slots k < K, 0 beyond
  Tensor ks;              // (B)           i64, components of each task
  Tensor labels;          // (B, N)        i64, true component of each point; -1 at padding
  Tensor scales;          // (B, Kmax, d)  per-coordinate std (Anisotropic only, else undefined)

  int64_t batch_size() const { return x.size(0); }
  int64_t n() const { return x.size(1); }
  int64_t d() const { return x.size(2); }
  int64_t k_max() const { return weights.size(1); }
  int64_t length(int64_t b) const;  // lengths[b]
  int64_t k(int64_t b) const;       // ks[b]
  // (B, N) in `dtype`: 1 at the valid positions n < lengths[b], 0 at padding (what a model that
  // reads the padded points is told is real).
  Tensor valid_mask(DType dtype) const;
};

// Draw a batch. Throws (naming sample_tasks) on an invalid config, or when no mean set passing
// the cosine filter is found (e.g. d = 1 with K >= 3, where none exists).
TaskBatch sample_tasks(const TaskConfig& config, Generator& gen);

// A block of task positions of a batch: [first, first + count).
struct TaskRange {
  int64_t first = 0;
  int64_t count = 0;
};
// Block `part` of `parts` near-equal contiguous blocks of `total` positions:
// [part * total / parts, (part + 1) * total / parts). The blocks of parts = 0..parts-1 tile
// [0, total) in order.
TaskRange split_range(int64_t total, int part, int parts);
// The tasks at positions `range` of the batch sample_tasks(config, gen) would draw, bit for bit
// (B = range.count, in position order), advancing `gen` exactly as that whole draw does. Throws
// std::invalid_argument when the range does not lie within the batch.
TaskBatch sample_tasks(const TaskConfig& config, Generator& gen, TaskRange range);

// Task b's valid points (L, d), weights (K), means (K, d), scales (K, d; undefined unless the
// batch is anisotropic), labels (L) as views / copies.
Tensor task_points(const TaskBatch& batch, int64_t b);
Tensor task_weights(const TaskBatch& batch, int64_t b);
Tensor task_means(const TaskBatch& batch, int64_t b);
Tensor task_scales(const TaskBatch& batch, int64_t b);
Tensor task_labels(const TaskBatch& batch, int64_t b);

// A one-task batch around user data x (N, d) with K components: the ground truth is unknown, so
// weights and means are zero and labels -1. Estimators read only x, lengths, ks.
TaskBatch points_batch(const Tensor& x, int64_t k);

// Delta = sqrt((1 + sqrt(a)) ln n) and d = floor(b n ln n) of the phase-transition experiment.
double phase_transition_separation(int64_t n, double a);
int64_t phase_transition_dimension(int64_t n, double b);

}  // namespace tg::gmm
