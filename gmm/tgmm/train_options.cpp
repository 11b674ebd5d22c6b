// train_options.cpp — the options of a training run (see train_options.h).
#include "gmm/tgmm/train_options.h"

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
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

// The environment variable `name`, lowercased ("" when unset).
std::string lowercase_environment(const char* name) {
  const char* value = std::getenv(name);
  std::string s = value ? value : "";
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace

bool waits_are_bounded() {
  const std::string policy = lowercase_environment("OMP_WAIT_POLICY");
  if (policy == "passive") return true;
  if (!policy.empty()) return false;  // active: spin for good
  const std::string spin = lowercase_environment("GOMP_SPINCOUNT");
  return !spin.empty() && spin.rfind("infinit", 0) != 0;  // "infinite"/"infinity": for good
}

int default_threads() {
  const nn::Launch launch = nn::launch_from_environment();
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (launch.by_launcher) {
    const int allowed = allowed_cores();
    if (allowed > 0 && allowed < cores) return allowed;  // bound: the launcher chose our cores
    return std::max(1, cores / std::max(1, launch.local_size));
  }
  return waits_are_bounded() ? cores : 1;
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
  if (n_start != 0 && (n_start < 2 || n_start > n)) {
    fail("--n-start must be 0 (off) or in [2, --n], got " + std::to_string(n_start));
  }
  if (batch < 1) fail("--batch must be >= 1");
  if (steps < 1) fail("--steps must be >= 1");
  if (!(lr > 0)) fail("--lr must be > 0");
  if (!std::isfinite(lr)) fail("--lr must be finite");
  if (!(min_lr >= 0)) fail("--min-lr must be >= 0");
  if (!std::isfinite(min_lr)) fail("--min-lr must be finite");
  if (!(wd >= 0)) fail("--wd must be >= 0");
  if (!std::isfinite(wd)) fail("--wd must be finite");
  if (warmup < 0) fail("--warmup must be >= 0");
  if (schedule != "cosine" && schedule != "constant") fail("--schedule must be cosine or constant");
  if (!(clip >= 0)) fail("--clip must be >= 0");
  if (!std::isfinite(clip)) fail("--clip must be finite");
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

int64_t TrainOptions::n_at(int64_t step) const {
  const int64_t ramp = steps / 2;  // steps of the ramp; full n from then on
  if (n_start == 0 || step >= ramp) return n;
  return n_start + (n - n_start) * step / ramp;
}

TaskConfig TrainOptions::task_config(int64_t step) const {
  TaskConfig tasks = task_config();
  tasks.n = n_at(step);
  return tasks;
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

namespace {

// The shortest text that reads back as `v` ("0.003", "1e-07").
std::string exact_text(double v) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, v).ptr;
  return std::string(text, end);
}

std::string int_list_text(const std::vector<int64_t>& values) {
  std::ostringstream os;
  for (size_t i = 0; i < values.size(); ++i) os << (i ? "," : "") << values[i];
  return os.str();
}

}  // namespace

std::map<std::string, std::string> TrainOptions::to_metadata() const {
  return {{"train.n", std::to_string(n)},
          {"train.n_start", std::to_string(n_start)},
          {"train.batch", std::to_string(batch)},
          {"train.steps", std::to_string(steps)},
          {"train.lr", std::to_string(lr)},
          {"train.lr_exact", exact_text(lr)},
          {"train.min_lr", std::to_string(min_lr)},
          {"train.min_lr_exact", exact_text(min_lr)},
          {"train.wd", std::to_string(wd)},
          {"train.wd_exact", exact_text(wd)},
          {"train.warmup", std::to_string(warmup)},
          {"train.schedule", schedule},
          {"train.clip", std::to_string(clip)},
          {"train.clip_exact", exact_text(clip)},
          {"train.loss", loss_kind_name(loss)},
          {"train.seed", std::to_string(seed)},
          {"train.eval_n", int_list_text(eval_ns)},
          {"train.eval_every", std::to_string(eval_every)},
          {"train.eval_tasks", std::to_string(eval_tasks)},
          {"train.checkpoint_every", std::to_string(checkpoint_every)}};
}

namespace {

using Metadata = std::map<std::string, std::string>;

std::optional<std::string> find(const Metadata& m, const std::string& key) {
  const auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

[[noreturn]] void malformed(const std::string& key, const std::string& value, const char* what) {
  std::string shown = value.substr(0, 40);
  for (char& c : shown) c = std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  throw std::runtime_error("training metadata '" + key + "': '" + shown + "' is not " + what);
}

// The integer at `key`, if recorded.
template <class Int>
void read_saved(const Metadata& m, const std::string& key, Int& field) {
  const auto text = find(m, key);
  if (!text) return;
  Int v{};
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (error != std::errc() || end != text->data() + text->size()) {
    malformed(key, *text, "an integer");
  }
  field = v;
}

double parse_saved_double(const std::string& key, const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) malformed(key, text, "a number");
  return v;
}

// The double at `key`_exact, else at `key` (six decimals: the field keeps its value when that
// prints the same), if recorded.
void read_saved_double(const Metadata& m, const std::string& key, double& field) {
  if (const auto exact = find(m, key + "_exact")) {
    field = parse_saved_double(key + "_exact", *exact);
  } else if (const auto text = find(m, key); text && *text != std::to_string(field)) {
    field = parse_saved_double(key, *text);
  }
}

void read_saved_list(const Metadata& m, const std::string& key, std::vector<int64_t>& field) {
  const auto text = find(m, key);
  if (!text) return;
  std::vector<int64_t> values;
  std::stringstream items(*text);
  for (std::string item; std::getline(items, item, ',');) {
    int64_t v = 0;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || error != std::errc() || end != item.data() + item.size()) {
      malformed(key, *text, "a list of integers");
    }
    values.push_back(v);
  }
  if (values.empty()) malformed(key, *text, "a list of integers");
  field = values;
}

}  // namespace

TrainOptions saved_options(const TrainOptions& current, const Metadata& model_metadata,
                           const Metadata& training_metadata) {
  TrainOptions o = current;
  try {
    o.model = TgmmConfig::from_metadata(model_metadata);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  const Metadata& m = training_metadata;
  read_saved(m, "train.n", o.n);
  read_saved(m, "train.n_start", o.n_start);
  read_saved(m, "train.batch", o.batch);
  read_saved(m, "train.warmup", o.warmup);
  read_saved(m, "train.seed", o.seed);
  read_saved_double(m, "train.lr", o.lr);
  read_saved_double(m, "train.min_lr", o.min_lr);
  read_saved_double(m, "train.wd", o.wd);
  read_saved_double(m, "train.clip", o.clip);
  if (const auto schedule = find(m, "train.schedule")) {
    if (*schedule != "cosine" && *schedule != "constant") {
      malformed("train.schedule", *schedule, "a schedule (cosine or constant)");
    }
    o.schedule = *schedule;
  }
  if (const auto loss = find(m, "train.loss")) {
    try {
      o.loss = parse_loss_kind(*loss);
    } catch (const std::invalid_argument&) {
      malformed("train.loss", *loss, "a loss (sorted or hungarian)");
    }
  }
  read_saved(m, "train.steps", o.steps);
  read_saved_list(m, "train.eval_n", o.eval_ns);
  read_saved(m, "train.eval_every", o.eval_every);
  read_saved(m, "train.eval_tasks", o.eval_tasks);
  read_saved(m, "train.checkpoint_every", o.checkpoint_every);
  return o;
}

std::vector<std::string> trajectory_differences(const TrainOptions& saved,
                                                const TrainOptions& given) {
  // The run's length and reporting may differ: take them from `given` before comparing.
  TrainOptions same_length = saved;
  same_length.steps = given.steps;
  same_length.eval_ns = given.eval_ns;
  same_length.eval_every = given.eval_every;
  same_length.eval_tasks = given.eval_tasks;
  same_length.checkpoint_every = given.checkpoint_every;
  std::vector<std::string> differences;
  auto compare = [&differences](const Metadata& a, const Metadata& b) {
    for (const auto& [key, value] : b) {
      if (b.count(key + "_exact")) continue;  // the six-decimal text of an exact value
      const auto other = find(a, key);
      if (other != value) {
        differences.push_back(key + " " + other.value_or("(none)") + " (saved) vs " + value +
                              " (given)");
      }
    }
  };
  // The model's covariance is written only when diagonal; compare it always.
  auto model_metadata = [](const TgmmConfig& c) {
    Metadata m = c.to_metadata();
    m["covariance"] = covariance_name(c.covariance);
    return m;
  };
  compare(model_metadata(same_length.model), model_metadata(given.model));
  compare(same_length.to_metadata(), given.to_metadata());
  return differences;
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
