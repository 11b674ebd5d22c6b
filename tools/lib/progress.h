// progress.h — a training run on the console: what it is, how it goes, what it scores.
//
//   resumed from runs/default at step 1500                     (a resumed run)
//   TGMM: P parameters, d=8, D=32, ...; <the schedule>       (the run)
//   step 120/3000  loss 2.3141  lr 1.80e-03  9.8 steps/s  ETA 4m54s
//   eval step 500  l2-error at N=64:  K=2 0.031 (em 0.012)  K=3 ...
//
// The progress line shows the loss smoothed over about 20 steps (exponential, 0.95), the
// learning rate, the steps per second since the start and the time left at that rate. On a
// terminal it is rewritten in place (\r) after every step; otherwise (a log file) it is printed
// every 100 steps and at the last. The evaluation line gives TGMM's mean l2-error per K at the
// first evaluation N, with EM's (the paper's variant: em-paper, or em-paper-diag for a diagonal
// model) in parentheses when it was scored, and a diagonal model's scale error after it
// ("K=2 0.031 (em 0.012) scale 0.0040").
#pragma once
#include <chrono>
#include <cmath>
#include <iosfwd>
#include <string>
#include <vector>

#include "gmm/tgmm/trainer.h"

namespace tg::tools {

class ConsoleProgress : public gmm::TrainingObserver {
 public:
  // tty: rewrite the progress line in place (the console is a terminal).
  ConsoleProgress(std::ostream& console, bool tty);

  void on_start(const gmm::TrainingRun& run) override;
  void on_step(const gmm::TrainingRun& run, const gmm::StepRecord& record) override;
  void on_steps_end(const gmm::TrainingRun& run) override;
  void on_evaluation(const gmm::TrainingRun& run, const gmm::Evaluation& evaluation,
                     bool final) override;

 private:
  std::ostream& console_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  int64_t first_step_ = 0;
  double smoothed_loss_ = NAN;
};

// "1h02m05s", "4m54s", "0m07s".
std::string format_duration(double seconds);

// "l2-error at N=64:  K=2 0.031 (em 0.012)  K=3 ..." for the records at N = n.
std::string eval_line(const std::vector<gmm::EvalRecord>& tgmm,
                      const std::vector<gmm::EvalRecord>& baselines, int64_t n);

}  // namespace tg::tools
