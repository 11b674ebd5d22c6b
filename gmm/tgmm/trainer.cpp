// trainer.cpp — the TGMM training loop (see trainer.h).
#include "gmm/tgmm/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "autograd/ops.h"
#include "gmm/tgmm/train_step.h"
#include "nn/checkpoint.h"
#include "nn/clip.h"
#include "nn/optim.h"
#include "nn/schedule.h"

namespace tg::gmm {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------------------ options

void TrainOptions::validate() const {
  auto fail = [](const std::string& what) { throw std::invalid_argument(what); };
  model.validate();
  if (n < 2) fail("--n must be >= 2");
  if (batch < 1) fail("--batch must be >= 1");
  if (steps < 1) fail("--steps must be >= 1");
  if (!(lr > 0)) fail("--lr must be > 0");
  if (wd < 0) fail("--wd must be >= 0");
  if (warmup < 0) fail("--warmup must be >= 0");
  if (schedule != "cosine" && schedule != "constant") fail("--schedule must be cosine or constant");
  if (clip < 0) fail("--clip must be >= 0");
  if (eval_every < 0 || checkpoint_every < 0) fail("--eval-every/--checkpoint-every must be >= 0");
  if (eval_tasks < 1) fail("--eval-tasks must be >= 1");
  for (int64_t e : eval_ns) {
    if (e < 1) fail("--eval-n values must be >= 1");
    if (model.backbone == "gpt2" && e > model.n_positions) {
      fail("--eval-n " + std::to_string(e) + " exceeds the model's positions");
    }
  }
  if (model.backbone == "gpt2" && n > model.n_positions) fail("--n exceeds the model's positions");
  if (out.empty()) fail("--out must not be empty");
}

TaskConfig TrainOptions::task_config() const {
  TaskConfig tasks;
  tasks.d = model.d;
  tasks.ks = model.ks;
  tasks.k_max = model.k_max;
  tasks.tasks_per_k = batch;
  tasks.n = n;
  tasks.random_lengths = true;
  tasks.dtype = model.dtype;
  return tasks;
}

std::map<std::string, std::string> TrainOptions::to_metadata() const {
  std::ostringstream ns;
  for (size_t i = 0; i < eval_ns.size(); ++i) ns << (i ? "," : "") << eval_ns[i];
  return {{"train.n", std::to_string(n)},           {"train.batch", std::to_string(batch)},
          {"train.steps", std::to_string(steps)},   {"train.lr", std::to_string(lr)},
          {"train.min_lr", std::to_string(min_lr)}, {"train.wd", std::to_string(wd)},
          {"train.warmup", std::to_string(warmup)}, {"train.schedule", schedule},
          {"train.clip", std::to_string(clip)},     {"train.loss", loss_kind_name(loss)},
          {"train.seed", std::to_string(seed)},     {"train.eval_n", ns.str()}};
}

// ------------------------------------------------------------------------------ estimator

Estimator tgmm_estimator(const TgmmModel& model, const std::string& name) {
  return {name, [&model](const TaskBatch& batch, Generator&) {
            ag::NoGradGuard no_grad;
            const TgmmOutput out =
                model.forward(batch.x, batch.ks, valid_mask(batch, model.config().dtype));
            // (B, Kmax) and (B, Kmax, d), back on the host for the metrics.
            const Tensor pi = exp(out.log_weights.value()).to(Device::CPU).to(DType::F64);
            const Tensor mu = out.means.value().to(Device::CPU).to(DType::F64);
            std::vector<Estimate> estimates;
            for (int64_t b = 0; b < batch.batch_size(); ++b) {
              const int64_t K = batch.k(b);
              Estimate e;
              e.weights = pi.select(0, b).narrow(0, 0, K).clone();
              e.means = mu.select(0, b).narrow(0, 0, K).clone();
              e.ok = all_finite(e.weights) && all_finite(e.means);
              if (!e.ok) e.failure = "non-finite output";
              estimates.push_back(e);
            }
            return estimates;
          }};
}

// ------------------------------------------------------------------------------ training

namespace {

struct Paths {
  fs::path dir, jsonl, eval;
};

// Keep the log lines a resumed run would rewrite out of train.jsonl (those after `step`).
void truncate_log(const fs::path& jsonl, int64_t step) {
  std::ifstream in(jsonl);
  std::vector<std::string> keep;
  for (std::string line; std::getline(in, line);) {
    try {
      if (nlohmann::json::parse(line).value("step", int64_t{0}) <= step) keep.push_back(line);
    } catch (const nlohmann::json::exception&) {
      // a torn last line from a killed run: drop it
    }
  }
  std::ofstream out(jsonl, std::ios::trunc);
  for (const auto& line : keep) out << line << "\n";
}

std::string format_duration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  std::ostringstream os;
  if (s >= 3600) os << s / 3600 << "h";
  os << std::setfill('0') << std::setw(s >= 3600 ? 2 : 1) << (s / 60) % 60 << "m" << std::setw(2)
     << s % 60 << "s";
  return os.str();
}

nlohmann::json eval_summary(const std::vector<EvalRecord>& records) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : records) j.push_back(to_json(r));
  return j;
}

// "K=2 0.031 (em 0.012)  K=3 ..." for the console, at the first evaluation N.
std::string eval_line(const std::vector<EvalRecord>& tgmm, const std::vector<EvalRecord>& base,
                      int64_t n) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(3) << "l2-error at N=" << n << ":";
  for (const auto& r : tgmm) {
    if (r.n != n) continue;
    os << "  K=" << r.k << " " << r.metrics.l2_error.mean;
    for (const auto& b : base) {
      if (b.n == n && b.k == r.k && b.method == "em-paper")
        os << " (em " << b.metrics.l2_error.mean << ")";
    }
  }
  return os.str();
}

}  // namespace

TrainResult train_tgmm(const TrainOptions& opt, std::ostream& console,
                       const std::atomic<bool>* stop) {
  opt.validate();
  if (opt.threads > 0) set_num_threads(opt.threads);
  const Paths paths{opt.out, fs::path(opt.out) / "train.jsonl", fs::path(opt.out) / "eval.json"};
  fs::create_directories(paths.dir);

  Generator init_gen(opt.seed);              // model initialisation
  Generator data_gen(opt.seed ^ 0x5eedULL);  // training tasks
  TgmmModel model(opt.model, init_gen);      // initialised on the CPU (same weights on any device)
  if (opt.device != Device::CPU) model.to(opt.device);
  nn::AdamWOptions adam;
  adam.lr = opt.lr;
  adam.weight_decay = opt.wd;
  nn::AdamW optimizer(model.named_parameters(), adam);
  // A run shorter than the warm-up warms up over all but its last step.
  const int64_t warmup = std::min(opt.warmup, opt.steps - 1);
  const nn::LrSchedule schedule =
      opt.schedule == "cosine"
          ? nn::warmup_cosine_schedule(opt.lr, warmup, opt.steps, std::min(opt.min_lr, opt.lr))
          : nn::constant_schedule(opt.lr, warmup);

  TrainResult result;
  int64_t step = 0;
  if (opt.resume) {
    if (!nn::checkpoint_exists(opt.out)) {
      throw std::runtime_error("--resume: no checkpoint in " + opt.out);
    }
    const nn::Checkpoint ckpt = nn::load_checkpoint(opt.out, model, optimizer);
    step = ckpt.step;
    data_gen.set_state(ckpt.rng_states.at("data"));
    truncate_log(paths.jsonl, step);
    console << "resumed from " << opt.out << " at step " << step << "\n";
  } else {
    std::ofstream(paths.jsonl, std::ios::trunc);
    fs::remove(paths.eval);  // a stale evaluation from an earlier run in the same directory
  }
  std::ofstream log(paths.jsonl, std::ios::app);

  auto save = [&](int64_t at) {
    nn::Checkpoint ckpt;
    ckpt.step = at;
    ckpt.rng_states["data"] = data_gen.state();
    ckpt.model_metadata = opt.model.to_metadata();
    ckpt.training_metadata = opt.to_metadata();
    nn::save_checkpoint(opt.out, model, optimizer, ckpt);
  };

  // Evaluation: baselines once (same tasks every time), TGMM at every evaluation.
  EvalSettings eval;
  eval.d = opt.model.d;
  eval.ks = opt.model.ks;
  eval.ns = opt.eval_ns;
  eval.tasks = opt.eval_tasks;
  eval.seed = opt.eval_seed;
  std::vector<EvalRecord> baseline_records;
  bool baselines_done = false;
  auto run_eval = [&](int64_t at) {
    if (!baselines_done) {
      std::vector<Estimator> baselines;
      for (const auto& name : opt.baselines) baselines.push_back(builtin_estimator(name));
      if (!baselines.empty()) baseline_records = evaluate(baselines, eval);
      baselines_done = true;
      log << nlohmann::json{{"type", "baselines"}, {"records", eval_summary(baseline_records)}}
                 .dump()
          << "\n";
    }
    model.eval();
    std::vector<EvalRecord> records = evaluate({tgmm_estimator(model)}, eval);
    model.train();
    log << nlohmann::json{{"type", "eval"}, {"step", at}, {"records", eval_summary(records)}}.dump()
        << "\n";
    log.flush();
    if (opt.after_evaluation) opt.after_evaluation();
    return records;
  };

  const bool tty = !opt.quiet && isatty(STDOUT_FILENO);
  console << "TGMM: " << model.parameter_count() << " parameters, d=" << opt.model.d
          << ", D=" << opt.model.embd << ", L=" << opt.model.layers << ", H=" << opt.model.heads
          << ", " << opt.model.backbone << " backbone, " << weight_head_name(opt.model.weight_head)
          << " weight head, " << loss_kind_name(opt.loss) << " loss; " << opt.batch
          << " tasks per K x " << opt.model.ks.size() << " K, N <= " << opt.n << "; "
          << schedule.describe() << "\n";

  const TaskConfig tasks = opt.task_config();

  const auto start = Clock::now();
  const int64_t first = step;
  double smoothed = NAN;
  while (step < opt.steps) {
    if (stop && stop->load()) {
      save(step);
      result.interrupted = true;
      result.message = "stopped at step " + std::to_string(step) + "; checkpoint saved";
      break;
    }
    const auto t0 = Clock::now();
    const double lr = schedule.lr_at(step);
    optimizer.set_lr(lr);

    const TaskBatch batch = sample_tasks(tasks, data_gen);
    const StepResult r = train_step(model, optimizer, batch, opt.loss, opt.clip);
    const double loss_value = r.loss, norm = r.grad_norm;
    if (r.status == StepResult::LossNotFinite) {
      result.diverged = true;
      result.message = "loss is " + std::to_string(loss_value) + " at step " +
                       std::to_string(step + 1) + "; stopped, the last checkpoint is kept";
      break;
    }
    if (r.status == StepResult::GradNotFinite) {
      result.diverged = true;
      result.message = "gradient norm is " + std::to_string(norm) + " at step " +
                       std::to_string(step + 1) + "; stopped, the last checkpoint is kept";
      break;
    }
    ++step;
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    log << nlohmann::json{{"step", step},
                          {"loss", loss_value},
                          {"weight_loss", r.weight_loss},
                          {"mean_loss", r.mean_loss},
                          {"lr", lr},
                          {"grad_norm", norm},
                          {"seconds", seconds}}
               .dump()
        << "\n";

    smoothed = std::isnan(smoothed) ? loss_value : 0.95 * smoothed + 0.05 * loss_value;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const double rate = (step - first) / elapsed;
    const double eta = (opt.steps - step) / rate;
    if (!opt.quiet && (tty || step % 100 == 0 || step == opt.steps)) {
      std::ostringstream line;
      line << "step " << step << "/" << opt.steps << "  loss " << std::fixed << std::setprecision(4)
           << smoothed << "  lr " << std::scientific << std::setprecision(2) << lr << std::fixed
           << "  " << std::setprecision(1) << rate << " steps/s  ETA " << format_duration(eta);
      console << (tty ? "\r" : "") << line.str() << (tty ? "   " : "\n") << std::flush;
    }

    const bool last = step == opt.steps;
    if (opt.eval_every > 0 && (step % opt.eval_every == 0) && !last) {
      const auto records = run_eval(step);
      if (!opt.quiet) {
        console << (tty ? "\n" : "") << "eval step " << step << "  "
                << eval_line(records, baseline_records, opt.eval_ns[0]) << "\n";
      }
    }
    if ((opt.checkpoint_every > 0 && step % opt.checkpoint_every == 0) || last) save(step);
  }
  if (tty) console << "\n";
  result.step = step;

  if (step == opt.steps && !result.interrupted && !result.diverged) {
    std::vector<EvalRecord> records = run_eval(step);
    records.insert(records.end(), baseline_records.begin(), baseline_records.end());
    result.final_eval = records;
    std::ofstream(paths.eval) << eval_summary(records).dump(2) << "\n";
    if (opt.after_evaluation) opt.after_evaluation();
  }
  log.flush();
  return result;
}

}  // namespace tg::gmm
