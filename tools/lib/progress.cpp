// progress.cpp — a training run on the console (see progress.h).
#include "tools/lib/progress.h"

#include <iomanip>
#include <ostream>
#include <sstream>

namespace tg::tools {

using Clock = std::chrono::steady_clock;

std::string format_duration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  std::ostringstream os;
  if (s >= 3600) os << s / 3600 << "h";
  os << std::setfill('0') << std::setw(s >= 3600 ? 2 : 1) << (s / 60) % 60 << "m" << std::setw(2)
     << s % 60 << "s";
  return os.str();
}

std::string eval_line(const std::vector<gmm::EvalRecord>& tgmm,
                      const std::vector<gmm::EvalRecord>& baselines, int64_t n) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(3) << "l2-error at N=" << n << ":";
  for (const auto& r : tgmm) {
    if (r.n != n) continue;
    os << "  K=" << r.k << " " << r.metrics.l2_error.mean;
    for (const auto& b : baselines) {
      if (b.n == n && b.k == r.k && (b.method == "em-paper" || b.method == "em-paper-diag"))
        os << " (em " << b.metrics.l2_error.mean << ")";
    }
    if (r.metrics.scale_error.count > 0) {
      os << std::setprecision(4) << " scale " << r.metrics.scale_error.mean << std::setprecision(3);
    }
  }
  return os.str();
}

ConsoleProgress::ConsoleProgress(std::ostream& console, bool tty) : console_(console), tty_(tty) {}

void ConsoleProgress::on_start(const gmm::TrainingRun& run) {
  const gmm::TrainOptions& o = run.options();
  if (run.resumed()) {
    console_ << "resumed from " << o.out << " at step " << run.steps_done() << "\n";
  }
  console_ << "TGMM: " << run.model().parameter_count() << " parameters, d=" << o.model.d
           << ", D=" << o.model.embd << ", L=" << o.model.layers << ", H=" << o.model.heads << ", "
           << o.model.backbone << " backbone, " << weight_head_name(o.model.weight_head)
           << " weight head, "
           << (o.model.covariance == gmm::Covariance::Diagonal ? "diag covariance, " : "")
           << loss_kind_name(o.loss) << " loss; " << o.batch << " tasks per K x "
           << o.model.ks.size() << " K, N <= " << o.n << "; " << run.schedule().describe() << "\n";
  start_ = Clock::now();
  first_step_ = run.steps_done();
}

void ConsoleProgress::on_step(const gmm::TrainingRun& run, const gmm::StepRecord& r) {
  smoothed_loss_ = std::isnan(smoothed_loss_) ? r.loss : 0.95 * smoothed_loss_ + 0.05 * r.loss;
  const int64_t steps = run.options().steps;
  if (!tty_ && r.step % 100 != 0 && r.step != steps) return;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = (r.step - first_step_) / elapsed;
  std::ostringstream line;
  line << "step " << r.step << "/" << steps << "  loss " << std::fixed << std::setprecision(4)
       << smoothed_loss_ << "  lr " << std::scientific << std::setprecision(2) << r.lr << std::fixed
       << "  " << std::setprecision(1) << rate << " steps/s  ETA "
       << format_duration((steps - r.step) / rate);
  console_ << (tty_ ? "\r" : "") << line.str() << (tty_ ? "   " : "\n") << std::flush;
}

void ConsoleProgress::on_steps_end(const gmm::TrainingRun&) {
  if (tty_) console_ << "\n";
}

void ConsoleProgress::on_evaluation(const gmm::TrainingRun& run, const gmm::Evaluation& e,
                                    bool final) {
  if (final) return;  // the program prints the final table
  console_ << (tty_ ? "\n" : "") << "eval step " << e.step << "  "
           << eval_line(e.tgmm, e.baselines, run.options().eval_ns[0]) << "\n";
}

}  // namespace tg::tools
