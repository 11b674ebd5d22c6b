// training_run.cpp — a TGMM training run, step by step (see training_run.h).
#include "gmm/tgmm/training_run.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "autograd/ops.h"

namespace tg::gmm {

namespace {

using Clock = std::chrono::steady_clock;

// The options, checked, with the process's thread count set from them (before anything runs).
TrainOptions prepared(const TrainOptions& options) {
  options.validate();
  if (options.threads > 0) set_num_threads(options.threads);
  return options;
}

// Moves the model (initialised on the CPU: the same weights on any device) to `device`, and
// returns its parameters for the optimiser.
nn::NamedParameters parameters_on(TgmmModel& model, Device device) {
  if (device != Device::CPU) model.to(device);
  return model.named_parameters();
}

nn::AdamWOptions adamw_options(const TrainOptions& o) {
  nn::AdamWOptions adam;
  adam.lr = o.lr;
  adam.weight_decay = o.wd;
  return adam;
}

nn::LrSchedule lr_schedule(const TrainOptions& o) {
  // A run shorter than the warm-up warms up over all but its last step.
  const int64_t warmup = std::min(o.warmup, o.steps - 1);
  return o.schedule == "cosine"
             ? nn::warmup_cosine_schedule(o.lr, warmup, o.steps, std::min(o.min_lr, o.lr))
             : nn::constant_schedule(o.lr, warmup);
}

}  // namespace

TrainingRun::TrainingRun(const TrainOptions& options)
    : options_(prepared(options)),
      init_gen_(options_.seed),
      data_gen_(options_.seed ^ 0x5eedULL),
      model_(options_.model, init_gen_),
      optimizer_(parameters_on(model_, options_.device), adamw_options(options_)),
      schedule_(lr_schedule(options_)),
      tasks_(options_.task_config()) {}

void TrainingRun::resume() {
  if (!nn::checkpoint_exists(options_.out)) {
    throw std::runtime_error("--resume: no checkpoint in " + options_.out);
  }
  // The settings must be the checkpoint's (tools/train makes them so, or refuses with the
  // flags named); a model wired differently could otherwise take the same weights silently.
  const nn::Checkpoint saved = nn::read_checkpoint(options_.out);
  const std::vector<std::string> differences = trajectory_differences(
      saved_options(options_, saved.model_metadata, saved.training_metadata), options_);
  if (!differences.empty()) {
    std::string list;
    for (const auto& d : differences) list += (list.empty() ? "" : "; ") + d;
    throw std::runtime_error("--resume: the checkpoint in " + options_.out +
                             " was trained with different settings: " + list);
  }
  const nn::Checkpoint ckpt = nn::load_checkpoint(options_.out, model_, optimizer_);
  step_ = ckpt.step;
  data_gen_.set_state(ckpt.rng_states.at("data"));
  resumed_ = true;
}

StepRecord TrainingRun::step() {
  const auto start = Clock::now();
  StepRecord record;
  record.step = step_ + 1;
  record.lr = schedule_.lr_at(step_);
  optimizer_.set_lr(record.lr);
  const TaskBatch batch = sample_tasks(tasks_, data_gen_);  // 1. sample tasks
  static_cast<StepResult&>(record) =
      train_step(model_, optimizer_, batch, options_.loss, options_.clip);  // 2. to 6.
  if (record.status == StepResult::Ok) ++step_;
  record.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return record;
}

Evaluation TrainingRun::evaluate() {
  Evaluation e;
  e.step = step_;
  const EvalSettings settings = options_.eval_settings();
  if (!baselines_scored_) {
    std::vector<Estimator> baselines;
    for (const auto& name : options_.baselines) baselines.push_back(builtin_estimator(name));
    if (!baselines.empty()) baseline_records_ = gmm::evaluate(baselines, settings);
    baselines_scored_ = true;
    e.baselines_scored_now = true;
  }
  e.baselines = baseline_records_;
  model_.eval();
  e.tgmm = gmm::evaluate({tgmm_estimator(model_)}, settings);
  model_.train();
  return e;
}

nn::Checkpoint TrainingRun::checkpoint() const {
  nn::Checkpoint ckpt;
  ckpt.step = step_;
  ckpt.rng_states["data"] = data_gen_.state();
  ckpt.model_metadata = options_.model.to_metadata();
  ckpt.training_metadata = options_.to_metadata();
  return ckpt;
}

bool TrainingRun::evaluation_due() const {
  return options_.eval_every > 0 && step_ % options_.eval_every == 0 && !finished();
}

bool TrainingRun::checkpoint_due() const {
  return (options_.checkpoint_every > 0 && step_ % options_.checkpoint_every == 0) || finished();
}

Estimator tgmm_estimator(const TgmmModel& model, const std::string& name) {
  return {name, [&model](const TaskBatch& batch, Generator&) {
            ag::NoGradGuard no_grad;
            const TgmmOutput out =
                model.forward(batch.x, batch.ks, batch.valid_mask(model.config().dtype));
            // (B, Kmax) and (B, Kmax, d), back on the host for the metrics.
            const Tensor pi = exp(out.log_weights.value()).to(Device::CPU).to(DType::F64);
            const Tensor mu = out.means.value().to(Device::CPU).to(DType::F64);
            const Tensor sigma = out.scales.defined()  // (B, Kmax, d), diagonal models
                                     ? out.scales.value().to(Device::CPU).to(DType::F64)
                                     : Tensor();
            std::vector<Estimate> estimates;
            for (int64_t b = 0; b < batch.batch_size(); ++b) {
              const int64_t K = batch.k(b);
              Estimate e;
              e.weights = pi.select(0, b).narrow(0, 0, K).clone();
              e.means = mu.select(0, b).narrow(0, 0, K).clone();
              if (sigma.defined()) e.scales = sigma.select(0, b).narrow(0, 0, K).clone();
              e.ok = all_finite(e.weights) && all_finite(e.means) &&
                     (!e.scales.defined() || all_finite(e.scales));
              if (!e.ok) e.failure = "non-finite output";
              estimates.push_back(e);
            }
            return estimates;
          }};
}

}  // namespace tg::gmm
