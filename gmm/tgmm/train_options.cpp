// train_options.cpp — the options of a training run (see train_options.h).
#include "gmm/tgmm/train_options.h"

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "nn/distributed.h"

namespace tg::gmm {

namespace {

// The cores this process may run on (its affinity mask), or 0 when that cannot be read.
int allowed_cores() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) != 0) return 0;
  return CPU_COUNT(&mask);
}

}  // namespace

int default_threads() {
  const nn::Launch launch = nn::launch_from_environment();
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (launch.by_launcher) {
    const int allowed = allowed_cores();
    if (allowed > 0 && allowed < cores) return allowed;  // bound: the launcher chose our cores
    return std::max(1, cores / std::max(1, launch.local_size));
  }
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  std::string p = policy ? policy : "";
  for (char& ch : p) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (p != "passive") return 1;
  return cores;
}

std::vector<std::string> default_baselines(Covariance covariance) {
  if (covariance == Covariance::Diagonal) return {"em-paper-diag", "em-diag", "spectral"};
  return {"em-paper", "em-strong", "spectral"};
}

namespace {
// Shift::Anisotropic for a diagonal model (its training and evaluation tasks), else none.
Shift task_shift(const TgmmConfig& model) {
  return model.covariance == Covariance::Diagonal ? Shift::Anisotropic : Shift::None;
}
}  // namespace

void TrainOptions::validate() const {
  auto fail = [](const std::string& what) { throw std::invalid_argument(what); };
  if (model.k_max < 1) fail("--k-max must be >= 1");
  for (int64_t k : model.ks) {
    if (k > model.k_max) {
      fail("--k-max " + std::to_string(model.k_max) + " is below K=" + std::to_string(k) +
           " of --ks");
    }
  }
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
  if (replica_check_every < 0) fail("--replica-check-every must be >= 0");
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
  tasks.shift = task_shift(model);
  tasks.dtype = model.dtype;
  return tasks;
}

EvalSettings TrainOptions::eval_settings() const {
  EvalSettings eval;
  eval.d = model.d;
  eval.ks = model.ks;
  eval.ns = eval_ns;
  eval.tasks = eval_tasks;
  eval.seed = eval_seed;
  eval.shift = task_shift(model);
  return eval;
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

void apply_paper_recipe(TrainOptions& o) {
  o.model.backbone = "gpt2";
  o.model.weight_head = WeightHead::Average;
  o.model.embd = 128;
  o.model.layers = 12;
  o.model.heads = 4;
  o.loss = LossKind::Sorted;
  o.lr = 1e-3;
  o.wd = 0;
  o.schedule = "constant";
  o.warmup = 0;
  o.clip = 0;
  o.batch = 64;
  o.n = 128;
  o.steps = 100001;
  o.eval_every = 1000;
  o.eval_ns = {32, 64, 128};
  o.eval_tasks = 128;
}

}  // namespace tg::gmm
