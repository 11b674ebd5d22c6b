// trainer.h — training TGMM to the end: the loop around a TrainingRun (training_run.h).
//
// Until the run has taken options.steps steps:
//   * a stop request (the `stop` flag, set by the program on SIGINT/SIGTERM) is checked before
//     each step: a checkpoint is written and training returns with interrupted = true;
//   * one step (TrainingRun::step), logged to train.jsonl; a loss or gradient that is not finite
//     stops training with a message, and the last good checkpoint stays on disk untouched;
//   * every eval_every steps (not at the last): an evaluation, logged;
//   * every checkpoint_every steps and at the last: a checkpoint in `out`.
// Then the final evaluation, logged and written to eval.json. --resume (options.resume)
// continues from the checkpoint bit-identically. Files: run_files.h, the only writer.
//
// With several processes (training_run.h) every process runs this loop in step: the stop request
// counts when any process has one, a non-finite loss or gradient stops all of them (the message
// names the rank that saw it), and every replica_check_every steps, before the checkpoint, the
// processes' parameters are compared (a difference stops training like a divergence). Rank 0
// writes the files; the others' observers see the same calls, with rank 0's records only.
//
// gmm/ prints nothing: the program follows the run through a TrainingObserver (tools/train
// prints a progress line and draws its plots from there).
#pragma once
#include <atomic>
#include <string>
#include <vector>

#include "gmm/tgmm/run_files.h"
#include "gmm/tgmm/train_options.h"
#include "gmm/tgmm/training_run.h"

namespace tg::gmm {

// Told what the run does, after the files say it. Every method does nothing by default.
class TrainingObserver {
 public:
  virtual ~TrainingObserver() = default;
  // Before the first step (after resuming, if the run resumed).
  virtual void on_start(const TrainingRun&) {}
  // After each completed step and its log line.
  virtual void on_step(const TrainingRun&, const StepRecord&) {}
  // The loop is over (done, stopped or diverged); the final evaluation, if any, comes next.
  virtual void on_steps_end(const TrainingRun&) {}
  // After each evaluation and its files: its log lines, and for the final one eval.json.
  virtual void on_evaluation(const TrainingRun&, const Evaluation&, bool /*final*/) {}
};

struct TrainResult {
  int64_t step = 0;                    // steps completed
  bool interrupted = false;            // stopped by a stop request
  bool diverged = false;               // stopped by a non-finite loss or gradient
  std::string message;                 // why it stopped early
  std::vector<EvalRecord> final_eval;  // TGMM and baselines, when training reached the end
};

// Train `run` to options.steps, writing through `files`. `stop` (may be null) is polled once
// per step.
TrainResult train(TrainingRun& run, RunFiles& files, TrainingObserver& observer,
                  const std::atomic<bool>* stop = nullptr);

// The whole job: a TrainingRun from `options` (resumed when options.resume), its files in
// options.out, trained to the end. Throws std::invalid_argument on bad options and
// std::runtime_error when --resume finds no checkpoint, or one made with other settings.
TrainResult train_tgmm(const TrainOptions& options, TrainingObserver* observer = nullptr,
                       const std::atomic<bool>* stop = nullptr);

}  // namespace tg::gmm
