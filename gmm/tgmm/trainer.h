// trainer.h — training TGMM: sample tasks, forward, loss, backward, AdamW; evaluate; checkpoint.
//
// One step (docs/tgmm.md, "The training recipe, and why"): draw `batch` tasks for each K of the
// list (padded to Kmax, each with a random training length in [N/2, N]), run the model on all of
// them at once, take the loss, backpropagate, clip, and step AdamW at the scheduled learning
// rate.
//
// Around it:
//   * every `eval_every` steps and at the end: the harness (evaluate.h) scores TGMM on fresh
//     tasks at each evaluation N; the baselines are scored once on the same tasks (the tasks
//     depend only on the evaluation seed) and reused;
//   * every `checkpoint_every` steps, at the end, and on a stop request (SIGINT/SIGTERM): a
//     checkpoint in `out` (nn/checkpoint.h). --resume continues from it bit-identically: the
//     model, AdamW's moments, the step and the data generator's state all come back exactly;
//   * a loss or gradient that is not finite stops training with a message; the last good
//     checkpoint stays on disk untouched;
//   * logs: `out/train.jsonl` (one JSON object per step, and per evaluation), `out/eval.json` (the
//     final evaluation records, harness JSON keys), and a progress line on the console.
#pragma once
#include <atomic>
#include <functional>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "gmm/mixture/evaluate.h"
#include "gmm/tgmm/tgmm.h"
#include "gmm/tgmm/tgmm_loss.h"

namespace tg::gmm {

struct TrainOptions {
  TgmmConfig model;
  int64_t n = 64;        // max training N (points per task)
  int64_t batch = 16;    // tasks per K per step
  int64_t steps = 3000;  // total optimiser steps (a resumed run continues up to this)
  double lr = 3e-3;
  double min_lr = 0.0;  // cosine floor
  double wd = 0.0;
  int64_t warmup = 200;
  std::string schedule = "cosine";  // "cosine" (warm-up then cosine decay) or "constant"
  double clip = 1.0;                // global gradient-norm clip; 0 = off
  LossKind loss = LossKind::Hungarian;
  uint64_t seed = 42;
  int threads = 0;  // 0 = all cores
  // Where the model trains. Tasks are sampled, matched (Hungarian) and evaluated against the
  // baselines on the CPU; the model's forward, backward and AdamW run on this device.
  Device device = Device::CPU;
  int64_t eval_every = 500;
  std::vector<int64_t> eval_ns = {64};
  int64_t eval_tasks = 256;  // per (K, N)
  uint64_t eval_seed = 7;
  std::vector<std::string> baselines = {"em-paper", "em-strong", "spectral"};
  int64_t checkpoint_every = 500;
  std::string out = "runs/default";
  bool resume = false;
  bool quiet = false;  // no progress line (tests)
  // Called after every evaluation has been logged, and after eval.json is written (the program
  // draws its plots here; gmm/ itself draws nothing).
  std::function<void()> after_evaluation;

  void validate() const;  // throws std::invalid_argument naming the bad option
  // The training tasks of one step: `batch` per K, random lengths in [n/2, n].
  TaskConfig task_config() const;
  std::map<std::string, std::string> to_metadata() const;
};

struct TrainResult {
  int64_t step = 0;                    // steps completed
  bool interrupted = false;            // stopped by a stop request
  bool diverged = false;               // stopped by a non-finite loss or gradient
  std::string message;                 // why it stopped early
  std::vector<EvalRecord> final_eval;  // TGMM and baselines, when training reached the end
};

// Train as `options` says, writing into options.out. `stop` (may be null) is polled once per
// step; when it becomes true the trainer checkpoints and returns with interrupted = true.
TrainResult train_tgmm(const TrainOptions& options, std::ostream& console,
                       const std::atomic<bool>* stop = nullptr);

// TGMM as an estimator for the harness (eval mode, no gradients).
Estimator tgmm_estimator(const TgmmModel& model, const std::string& name = "tgmm");

}  // namespace tg::gmm
