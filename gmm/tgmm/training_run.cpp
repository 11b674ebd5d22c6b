// training_run.cpp — a TGMM training run, step by step (see training_run.h).
#include "gmm/tgmm/training_run.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <stdexcept>

#include "autograd/ops.h"
#include "gmm/tgmm/split_evaluation.h"

namespace tg::gmm {

namespace {

using Clock = std::chrono::steady_clock;

// The options, checked, with the process's thread count set from them and, with several
// processes, this process's GPU chosen (before anything runs).
TrainOptions prepared(const TrainOptions& options, nn::Communicator& comm) {
  options.validate();
  const int64_t tasks = options.task_config().batch_size();
  if (tasks < comm.size()) {
    throw std::invalid_argument(
        "--batch " + std::to_string(options.batch) + " x " +
        std::to_string(options.model.ks.size()) + " K = " + std::to_string(tasks) +
        " tasks per step cannot be split over " + std::to_string(comm.size()) + " processes");
  }
  if (options.threads > 0) set_num_threads(options.threads);
  comm.use_device(options.device);
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

TrainingRun::TrainingRun(const TrainOptions& options, nn::Communicator& comm)
    : options_(prepared(options, comm)),
      comm_(comm),
      reducer_(comm),
      init_gen_(options_.seed),
      data_gen_(options_.seed ^ 0x5eedULL),
      model_(options_.model, init_gen_),
      optimizer_(parameters_on(model_, options_.device), adamw_options(options_)),
      schedule_(lr_schedule(options_)),
      tasks_(options_.task_config()),
      share_(split_range(tasks_.batch_size(), comm.rank(), comm.size())) {
  nn::broadcast_parameters(model_, comm_);  // every replica starts from rank 0's bits
}

// The settings must be the checkpoint's (tools/train makes them so, or refuses with the flags
// named); a model wired differently could otherwise take the same weights silently.
void TrainingRun::check_checkpoint_settings() const {
  const nn::Checkpoint saved = nn::read_checkpoint(options_.out);
  const std::vector<std::string> differences = trajectory_differences(
      saved_options(options_, saved.model_metadata, saved.training_metadata), options_);
  if (differences.empty()) return;
  std::string list;
  for (const auto& d : differences) list += (list.empty() ? "" : "; ") + d;
  throw std::runtime_error("--resume: the checkpoint in " + options_.out +
                           " was trained with different settings: " + list);
}

void TrainingRun::resume() {
  std::string error;  // rank 0's, sent to every process so that all of them throw alike
  if (comm_.is_root()) {
    try {
      if (!nn::checkpoint_exists(options_.out)) {
        throw std::runtime_error("--resume: no checkpoint in " + options_.out);
      }
      check_checkpoint_settings();
      const nn::Checkpoint ckpt = nn::load_checkpoint(options_.out, model_, optimizer_);
      step_ = ckpt.step;
      data_gen_.set_state(ckpt.rng_states.at("data"));
    } catch (const std::exception& e) {
      error = e.what();
      if (!comm_.distributed()) throw;
    }
  }
  comm_.broadcast(error);
  if (!error.empty()) throw std::runtime_error(error);
  if (comm_.distributed()) share_state_of_root();
  resumed_ = true;
}

// The step and the data generator as 6 i64 words; the model and optimiser by their own
// broadcasts (nn/data_parallel.h).
void TrainingRun::share_state_of_root() {
  Tensor words = empty({6}, DType::I64);  // (6) step, then the generator's state
  int64_t* w = words.data<int64_t>();
  const std::array<uint64_t, 5> state = data_gen_.state();
  w[0] = step_;
  for (size_t i = 0; i < state.size(); ++i) w[i + 1] = static_cast<int64_t>(state[i]);
  comm_.broadcast(words);
  std::array<uint64_t, 5> received;
  for (size_t i = 0; i < received.size(); ++i) received[i] = static_cast<uint64_t>(w[i + 1]);
  step_ = w[0];
  data_gen_.set_state(received);
  nn::broadcast_parameters(model_, comm_);
  nn::broadcast_optimizer_state(optimizer_, comm_);
}

StepRecord TrainingRun::step() {
  const auto start = Clock::now();
  StepRecord record;
  record.step = step_ + 1;
  record.lr = schedule_.lr_at(step_);
  optimizer_.set_lr(record.lr);
  // 1. sample tasks (at most n_at(step) points each: the curriculum over N, when one is set)
  const TaskBatch batch = sample_tasks(options_.task_config(step_), data_gen_, share_);
  if (comm_.distributed()) {  // 2. to 6., this process's block of a split step
    const StepSplit split{comm_, reducer_, tasks_.batch_size()};
    static_cast<StepResult&>(record) =
        train_step(model_, optimizer_, batch, options_.loss, options_.clip, split);
  } else {  // 2. to 6.
    static_cast<StepResult&>(record) =
        train_step(model_, optimizer_, batch, options_.loss, options_.clip);
  }
  if (record.status == StepResult::Ok) ++step_;
  record.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return record;
}

Evaluation TrainingRun::evaluate() {
  Evaluation e;
  e.step = step_;
  const EvalSettings settings = options_.eval_settings();
  if (!baselines_scored_) {  // rank 0 alone; the others wait asleep
    std::vector<Estimator> baselines;
    for (const auto& name : options_.baselines) baselines.push_back(builtin_estimator(name));
    if (!baselines.empty() && comm_.is_root()) {
      baseline_records_ = gmm::evaluate(baselines, settings);
    }
    comm_.idle_barrier();
    baselines_scored_ = true;
    e.baselines_scored_now = true;
  }
  e.baselines = baseline_records_;
  model_.eval();
  e.tgmm = evaluate_split({tgmm_estimator(model_)}, settings, comm_);
  model_.train();
  return e;
}

std::string TrainingRun::replicas_disagree() const {
  if (!comm_.distributed()) return "";
  const std::vector<uint64_t> sums = comm_.all_gather(nn::parameter_checksum(model_));
  for (size_t r = 1; r < sums.size(); ++r) {
    if (sums[r] != sums[0]) {
      return "the processes' models differ after step " + std::to_string(step_) + ": rank " +
             std::to_string(r) + "'s parameters are not rank 0's (checksums compared every " +
             std::to_string(options_.replica_check_every) + " steps)";
    }
  }
  return "";
}

bool TrainingRun::replica_check_due() const {
  if (!comm_.distributed()) return false;
  const int64_t every = options_.replica_check_every;
  return finished() || (every > 0 && step_ % every == 0);
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
