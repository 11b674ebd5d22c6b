// schedule.cpp — lr_at for the two schedule kinds (formulas in schedule.h).
#include "nn/schedule.h"

#include <cmath>
#include <numbers>
#include <sstream>
#include <stdexcept>

namespace tg::nn {

double LrSchedule::lr_at(int64_t step) const {
  if (step < 0) throw std::invalid_argument("LrSchedule: negative step " + std::to_string(step));
  if (step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (kind == Kind::Constant) return lr;
  if (step >= total) return min_lr;
  const double progress = static_cast<double>(step - warmup) / static_cast<double>(total - warmup);
  return min_lr + (lr - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

std::string LrSchedule::describe() const {
  std::ostringstream os;
  os << (kind == Kind::Constant ? "constant" : "cosine") << " lr " << lr << ", warmup " << warmup;
  if (kind == Kind::Cosine) os << ", total " << total << ", min_lr " << min_lr;
  return os.str();
}

LrSchedule constant_schedule(double lr, int64_t warmup) {
  if (!(lr >= 0) || !std::isfinite(lr) || warmup < 0) {
    throw std::invalid_argument("constant_schedule: need lr >= 0 and warmup >= 0");
  }
  return LrSchedule{LrSchedule::Kind::Constant, lr, warmup, 0, lr};
}

LrSchedule warmup_cosine_schedule(double lr, int64_t warmup, int64_t total, double min_lr) {
  if (!(lr >= 0) || !std::isfinite(lr) || !(min_lr >= 0) || min_lr > lr || warmup < 0 ||
      total <= warmup) {
    throw std::invalid_argument(
        "warmup_cosine_schedule: need 0 <= min_lr <= lr, 0 <= warmup < total (got lr " +
        std::to_string(lr) + ", min_lr " + std::to_string(min_lr) + ", warmup " +
        std::to_string(warmup) + ", total " + std::to_string(total) + ")");
  }
  return LrSchedule{LrSchedule::Kind::Cosine, lr, warmup, total, min_lr};
}

}  // namespace tg::nn
