// train_options.h — everything a TGMM training run is told: the model, the recipe (AdamW,
// schedule, clipping, loss), the data, evaluation and checkpoints, and where to write.
//
// The member defaults ARE the default run (`tools/train` with no flags): a small model and
// recipe that trains on a 2-core CPU in minutes (docs/results.md). TgmmConfig's own defaults are
// the paper's architecture; the default run overrides them below. The paper's full recipe is a
// named overlay on top of the defaults (apply_paper_recipe). Option names in error messages are
// the command-line flags (tools/lib/train_flags.h binds one flag to each field).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "gmm/mixture/evaluate.h"
#include "gmm/mixture/tasks.h"
#include "gmm/tgmm/tgmm.h"
#include "gmm/tgmm/tgmm_loss.h"

namespace tg::gmm {

// Threads for a run that does not say. Measured on the 2-core AVX2 machine (docs/results.md,
// "Threads and time"), seconds per step of the default configuration, idle / with one other busy
// process:
//   one thread                                                0.0251 / 0.0256
//   two, OpenMP's default waits (spin 300,000 times, sleep)   0.0164 / 0.0320
//   two, OMP_WAIT_POLICY=passive (sleep at once)              0.0235 / 0.0275
//   two, GOMP_SPINCOUNT=1000 (spin 1,000 times, sleep)        0.0151 / 0.0334
// and for the earlier, larger step (16 tasks per K, N <= 64) the default waits stall under load
// (0.2169 against one thread's 0.1092). So: every core when a thread's wait at a barrier is
// bounded — OMP_WAIT_POLICY=passive, or GOMP_SPINCOUNT given (the tools/train launcher sets 1000
// unless the environment already says otherwise) — else one thread.
// One of several processes started by mpirun (docs/distributed.md) takes its share of the
// cores instead: the cores it may run on when it is bound to some (its affinity mask), else the
// machine's cores divided by the processes on this machine (at least one).
int default_threads();

// Whether an OpenMP thread waiting at a barrier sleeps after a bounded spin: OMP_WAIT_POLICY is
// passive, or it is unset and GOMP_SPINCOUNT (libgomp's spins before sleeping) is a finite count.
bool waits_are_bounded();

// The baselines a run compares TGMM with: em-paper, em-strong and spectral for a unit-covariance
// model; em-paper-diag, em-diag and spectral (refused on anisotropic tasks: failures) for a
// diagonal one.
std::vector<std::string> default_baselines(Covariance covariance);

struct TrainOptions {
  TgmmConfig model = {.d = 8,
                      .ks = {2, 3, 4, 5},
                      .k_max = 5,
                      .embd = 32,
                      .layers = 4,
                      .heads = 4,
                      .n_positions = 128,
                      .backbone = "set",
                      .weight_head = WeightHead::Slot};
  // The model's width and the recipe are the speedrun's winner (docs/speedrun.md): a narrow model
  // (D = 32) and many cheap steps of few, short tasks — 8 tasks per K of at most 32 points,
  // 27,500 steps — in the time the earlier default (D = 64, 16 tasks of at most 64 points, 3,000
  // steps) took on two cores; evaluation stays at N = 64.
  int64_t n = 32;        // max training N (points per task)
  // A curriculum over N: the most points per training task at the first step, raised linearly
  // to n by the middle of the run (n_at); 0 = n from the start.
  int64_t n_start = 0;
  int64_t batch = 8;      // tasks per K per step
  int64_t steps = 27500;  // total optimiser steps (a resumed run continues up to this)
  double lr = 3e-3;
  double min_lr = 1e-4;  // cosine floor
  double wd = 0.0;
  int64_t warmup = 200;
  std::string schedule = "cosine";  // "cosine" (warm-up then cosine decay) or "constant"
  double clip = 1.0;                // global gradient-norm clip; 0 = off
  LossKind loss = LossKind::Hungarian;
  uint64_t seed = 42;
  int threads = default_threads();  // 0 = all cores
  // Where the model trains. Tasks are sampled, matched (Hungarian) and evaluated against the
  // baselines on the CPU; the model's forward, backward and AdamW run on this device.
  Device device = Device::CPU;
  int64_t eval_every = 2000;  // five evaluations in a default run (each costs ~2 s of ~3.5 min)
  std::vector<int64_t> eval_ns = {64};
  int64_t eval_tasks = 256;  // per (K, N)
  uint64_t eval_seed = 7;
  // tools/train sets them from --covariance (default_baselines).
  std::vector<std::string> baselines = default_baselines(Covariance::Unit);
  int64_t checkpoint_every = 500;
  std::string out = "runs/default";
  bool resume = false;
  // With several processes: compare a checksum of every process's parameters this often (and
  // at the end); 0 = only at the end. Unused by one process.
  int64_t replica_check_every = 100;

  // Throws std::invalid_argument naming the bad option (every number finite, in its range).
  void validate() const;
  // The most points per training task at 0-based step `step`: n_start + (n - n_start) * step /
  // (steps / 2), rounded down, from step steps / 2 on n; n throughout when n_start is 0.
  int64_t n_at(int64_t step) const;
  // The training tasks of one step: `batch` per K, random lengths in [n/2, n] (n_at(step) when
  // given); anisotropic (Shift::Anisotropic) for a diagonal model.
  TaskConfig task_config() const;
  TaskConfig task_config(int64_t step) const;
  // The evaluation tasks: eval_tasks per (K, N) for each N of eval_ns, from eval_seed;
  // anisotropic for a diagonal model.
  EvalSettings eval_settings() const;
  // The settings as a checkpoint's training metadata (the model's are TgmmConfig::to_metadata,
  // in the model file). Keys: train.n, .n_start, .batch, .steps, .lr, .min_lr, .wd, .warmup, .schedule,
  // .clip, .loss, .seed, .eval_n — the doubles there with six decimals ("0.003000"), kept as
  // they always were — and train.lr_exact, .min_lr_exact, .wd_exact, .clip_exact (the shortest
  // text that reads back as the same double), .eval_every, .eval_tasks, .checkpoint_every.
  std::map<std::string, std::string> to_metadata() const;
};

// Resuming (docs/reliability.md, "Resume and interruption"). The options a checkpoint was made
// with: `current` with every setting the checkpoint recorded written over it — the model
// (TgmmConfig::from_metadata of the model file's metadata), and from the training metadata the
// recipe (n, n_start, batch, lr, min_lr, wd, warmup, schedule, clip, loss, seed) and the run's length and
// reporting (steps, eval_ns, eval_every, eval_tasks, checkpoint_every). A key the checkpoint
// lacks (one written before the key existed) leaves the field as `current` has it. A double
// recorded only with six decimals (no *_exact key) keeps `current`'s value when that prints the
// same. Throws std::runtime_error naming the key when a recorded value does not parse.
TrainOptions saved_options(const TrainOptions& current,
                           const std::map<std::string, std::string>& model_metadata,
                           const std::map<std::string, std::string>& training_metadata);

// The settings of `given` that shape the training trajectory and differ from `saved`, each as
// "key saved-value (saved) vs given-value (given)" (metadata keys and texts). The run's length,
// its reporting, its threads, device and directory may differ and are not listed.
std::vector<std::string> trajectory_differences(const TrainOptions& saved,
                                                const TrainOptions& given);

// The official architecture and recipe: causal GPT-2 (D=128, L=12, H=4), the slot-averaged
// weight head, weight-sorted targets, AdamW at a constant lr 1e-3 without weight decay or
// clipping, 64 tasks per K at N <= 128, evaluated at N = 32, 64, 128. Sets those fields of `o`
// and leaves the others.
void apply_paper_recipe(TrainOptions& o);

}  // namespace tg::gmm
