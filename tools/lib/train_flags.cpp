// train_flags.cpp — the training settings as flags and TOML keys (see train_flags.h).
#include "tools/lib/train_flags.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace tg::tools {

using gmm::LossKind;
using gmm::parse_loss_kind;
using gmm::parse_weight_head;
using gmm::TgmmConfig;
using gmm::TrainOptions;
using gmm::WeightHead;

namespace {

std::vector<int64_t> parse_list(const std::string& s, const std::string& flag) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) {
      throw std::invalid_argument(flag + ": '" + s + "' is not a comma-separated list of integers");
    }
    out.push_back(v);
  }
  if (out.empty()) throw std::invalid_argument(flag + ": empty list");
  return out;
}

template <class T>
T parse_number(const std::string& s, const std::string& flag) {
  std::istringstream is(s);
  T v{};
  if (!(is >> v) || !is.eof()) {
    throw std::invalid_argument(flag + ": '" + s + "' is not a valid number");
  }
  return v;
}

bool parse_bool(const std::string& s, const std::string& flag) {
  if (s == "true" || s == "1") return true;
  if (s == "false" || s == "0") return false;
  throw std::invalid_argument(flag + ": '" + s + "' is not true or false");
}

// Every setting, as a name and a function applying its value (given as text) to the options.
using Setter = std::function<void(TrainOptions&, const std::string&)>;
std::map<std::string, Setter> settings() {
  auto i64 = [](int64_t TrainOptions::*field, const char* flag) -> Setter {
    return
        [=](TrainOptions& o, const std::string& v) { o.*field = parse_number<int64_t>(v, flag); };
  };
  auto f64 = [](double TrainOptions::*field, const char* flag) -> Setter {
    return [=](TrainOptions& o, const std::string& v) { o.*field = parse_number<double>(v, flag); };
  };
  auto model_i64 = [](int64_t TgmmConfig::*field, const char* flag) -> Setter {
    return [=](TrainOptions& o, const std::string& v) {
      o.model.*field = parse_number<int64_t>(v, flag);
    };
  };
  return {
      {"d", model_i64(&TgmmConfig::d, "--d")},
      {"ks", [](TrainOptions& o, const std::string& v) { o.model.ks = parse_list(v, "--ks"); }},
      {"embd", model_i64(&TgmmConfig::embd, "--embd")},
      {"layers", model_i64(&TgmmConfig::layers, "--layers")},
      {"heads", model_i64(&TgmmConfig::heads, "--heads")},
      {"positions", model_i64(&TgmmConfig::n_positions, "--positions")},
      {"backbone", [](TrainOptions& o, const std::string& v) { o.model.backbone = v; }},
      {"weight-head",
       [](TrainOptions& o, const std::string& v) { o.model.weight_head = parse_weight_head(v); }},
      {"n", i64(&TrainOptions::n, "--n")},
      {"batch", i64(&TrainOptions::batch, "--batch")},
      {"steps", i64(&TrainOptions::steps, "--steps")},
      {"lr", f64(&TrainOptions::lr, "--lr")},
      {"min-lr", f64(&TrainOptions::min_lr, "--min-lr")},
      {"wd", f64(&TrainOptions::wd, "--wd")},
      {"warmup", i64(&TrainOptions::warmup, "--warmup")},
      {"schedule", [](TrainOptions& o, const std::string& v) { o.schedule = v; }},
      {"clip", f64(&TrainOptions::clip, "--clip")},
      {"loss", [](TrainOptions& o, const std::string& v) { o.loss = parse_loss_kind(v); }},
      {"seed",
       [](TrainOptions& o, const std::string& v) { o.seed = parse_number<uint64_t>(v, "--seed"); }},
      {"threads", [](TrainOptions& o,
                     const std::string& v) { o.threads = parse_number<int>(v, "--threads"); }},
      {"eval-every", i64(&TrainOptions::eval_every, "--eval-every")},
      {"eval-n",
       [](TrainOptions& o, const std::string& v) { o.eval_ns = parse_list(v, "--eval-n"); }},
      {"eval-tasks", i64(&TrainOptions::eval_tasks, "--eval-tasks")},
      {"checkpoint-every", i64(&TrainOptions::checkpoint_every, "--checkpoint-every")},
      {"out", [](TrainOptions& o, const std::string& v) { o.out = v; }},
      {"resume",
       [](TrainOptions& o, const std::string& v) { o.resume = parse_bool(v, "--resume"); }},
  };
}

// The official architecture and recipe (docs/tgmm.md, "The training recipe, and why"): causal
// GPT-2, slot-averaged weight head, weight-sorted targets, AdamW lr 1e-3 constant, wd 0, D=128,
// L=12, H=4, 64 tasks per K.
const std::map<std::string, std::string> kPaperRecipe = {{"backbone", "gpt2"},
                                                         {"weight-head", "average"},
                                                         {"loss", "sorted"},
                                                         {"lr", "0.001"},
                                                         {"wd", "0"},
                                                         {"embd", "128"},
                                                         {"layers", "12"},
                                                         {"heads", "4"},
                                                         {"batch", "64"},
                                                         {"schedule", "constant"},
                                                         {"warmup", "0"},
                                                         {"clip", "0"},
                                                         {"n", "128"},
                                                         {"steps", "100001"},
                                                         {"eval-every", "1000"},
                                                         {"eval-n", "32,64,128"},
                                                         {"eval-tasks", "128"}};

// Threads, measured for the default run on the 2-core machine (docs/results.md, "Threads and
// time"), seconds per step idle / with one other busy process:
//   one thread                                  0.098 / 0.112
//   two, OpenMP's default (spinning) waits      0.059 / 0.219  (each barrier waits for a slice)
//   two, OMP_WAIT_POLICY=passive (threads sleep) 0.071 / 0.103
// So: every core when the wait policy is passive (the tools/train launcher sets it unless the
// environment already says otherwise), else one thread.
int default_threads() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  std::string p = policy ? policy : "";
  for (char& ch : p) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (p != "passive") return 1;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Our default: small enough for a 2-core CPU in minutes (docs/results.md).
TrainOptions default_options_impl() {
  TrainOptions o;
  o.model.d = 8;
  o.model.ks = {2, 3, 4, 5};
  o.model.k_max = 5;
  o.model.embd = 64;
  o.model.layers = 4;
  o.model.heads = 4;
  o.model.n_positions = 128;
  o.model.backbone = "set";
  o.model.weight_head = WeightHead::Slot;
  o.n = 64;
  o.batch = 16;
  o.steps = 3000;
  o.lr = 3e-3;
  o.min_lr = 1e-4;
  o.warmup = 200;
  o.schedule = "cosine";
  o.clip = 1.0;
  o.loss = LossKind::Hungarian;
  o.eval_every = 500;
  o.eval_ns = {64};
  o.eval_tasks = 256;
  o.checkpoint_every = 500;
  o.out = "runs/default";
  o.threads = default_threads();
  return o;
}

std::string toml_value_text(const toml::node& node, const std::string& key) {
  if (auto s = node.value<std::string>()) return *s;
  if (auto b = node.value_exact<bool>()) return *b ? "true" : "false";
  if (auto i = node.value_exact<int64_t>()) return std::to_string(*i);
  if (auto f = node.value_exact<double>()) {
    std::ostringstream os;
    os.precision(17);
    os << *f;
    return os.str();
  }
  if (auto arr = node.as_array()) {
    std::string s;
    for (const auto& item : *arr) {
      auto i = item.value_exact<int64_t>();
      if (!i) throw std::invalid_argument("config: '" + key + "' must be a list of integers");
      s += (s.empty() ? "" : ",") + std::to_string(*i);
    }
    return s;
  }
  throw std::invalid_argument("config: '" + key + "' has an unsupported value type");
}

}  // namespace

TrainOptions default_train_options() { return default_options_impl(); }

TrainFlags::TrainFlags(CLI::App& app) {
  for (const auto& [name, _] : settings()) {
    if (name == "resume") continue;
    options_[name] = app.add_option("--" + name, values_[name]);
  }
  app.add_flag("--resume", resume_, "continue the run in --out from its last checkpoint");
  app.add_option("--recipe", recipe_, "paper: the official architecture and recipe");
  app.add_option("--config", config_, "a TOML file of settings (flag names without dashes)");
  app.add_option("--device", device_, "cpu or cuda");
}

bool TrainFlags::given(const std::string& name) const {
  auto it = options_.find(name);
  if (it != options_.end() && it->second->count() > 0) return true;
  auto c = from_config_.find(name);
  return c != from_config_.end() && c->second;
}

TrainOptions TrainFlags::resolve() const {
  const auto table = settings();
  TrainOptions o = default_train_options();
  if (!recipe_.empty() && recipe_ != "paper") {
    throw std::invalid_argument("--recipe: unknown recipe '" + recipe_ + "' (expected paper)");
  }
  if (recipe_ == "paper") {
    for (const auto& [k, v] : kPaperRecipe) table.at(k)(o, v);
  }
  if (!config_.empty()) {
    toml::table file;
    try {
      file = toml::parse_file(config_);
    } catch (const toml::parse_error& e) {
      std::ostringstream os;
      os << "config " << config_ << ": " << e.description() << " (line " << e.source().begin.line
         << ")";
      throw std::invalid_argument(os.str());
    }
    for (const auto& [key, node] : file) {
      const std::string k(key.str());
      if (!table.count(k))
        throw std::invalid_argument("config " + config_ + ": unknown key '" + k + "'");
      from_config_[k] = true;
      auto flag = options_.find(k);
      if (flag == options_.end() || flag->second->count() == 0) {
        table.at(k)(o, toml_value_text(node, k));
      }
    }
  }
  for (const auto& [name, opt] : options_) {
    if (opt->count() > 0) table.at(name)(o, values_.at(name));
  }
  if (resume_) o.resume = true;
  if (device_ != "cpu" && device_ != "cuda") {
    throw std::invalid_argument("--device: '" + device_ + "' (expected cpu or cuda)");
  }
  o.device = parse_device(device_);
  try {
    require_device(o.device, "--device cuda");  // built with CUDA, and a GPU is visible
  } catch (const std::runtime_error& e) {
    throw std::invalid_argument(e.what());
  }
  // Positions must cover training and evaluation lengths (the gpt2 backbone).
  int64_t longest = o.n;
  for (int64_t e : o.eval_ns) longest = std::max(longest, e);
  if (!given("positions")) o.model.n_positions = std::max(o.model.n_positions, longest);
  o.validate();
  return o;
}

std::string train_settings_help() {
  return "Settings (flags, or keys of --config): d, ks, embd, layers, heads, positions, "
         "backbone (gpt2|set), weight-head (average|slot), n, batch, steps, lr, min-lr, "
         "wd, warmup, schedule (cosine|constant), clip, loss (sorted|hungarian), seed, "
         "threads, eval-every, eval-n, eval-tasks, checkpoint-every, out\n";
}

}  // namespace tg::tools
