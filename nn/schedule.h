// schedule.h — learning-rate schedules: constant and linear warm-up + cosine decay.
//
// A schedule is a plain value: lr_at(step) gives the learning rate for the optimiser step with
// 0-based index `step` (the trainer calls optimizer.set_lr(schedule.lr_at(step)) before
// optimizer.step()). Both kinds start with an optional linear warm-up:
//   step < warmup:            lr * (step + 1) / warmup          (reaches lr at step warmup - 1)
// then
//   constant:                 lr
//   cosine:                   min_lr + (lr - min_lr) * (1 + cos(pi * progress)) / 2,
//                             progress = (step - warmup) / (total - warmup), in [0, 1]
//   cosine, step >= total:    min_lr
// A schedule is a pure function of the step, so resuming at step s gives the same rates.
#pragma once
#include <cstdint>
#include <string>

namespace tg::nn {

struct LrSchedule {
  enum class Kind { Constant, Cosine };
  Kind kind = Kind::Constant;
  double lr = 1e-3;     // the peak (after warm-up) learning rate
  int64_t warmup = 0;   // warm-up steps (0: none)
  int64_t total = 0;    // cosine: the step at which the rate reaches min_lr
  double min_lr = 0.0;  // cosine: the floor

  double lr_at(int64_t step) const;
  // "constant lr 0.001, warmup 100" — for logs.
  std::string describe() const;
};

// Checked constructors (they throw std::invalid_argument on negative or inconsistent values).
LrSchedule constant_schedule(double lr, int64_t warmup = 0);
LrSchedule warmup_cosine_schedule(double lr, int64_t warmup, int64_t total, double min_lr = 0.0);

}  // namespace tg::nn
