// train_flags.cpp — the training settings as typed flags and TOML keys (see train_flags.h).
#include "tools/lib/train_flags.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "nn/checkpoint.h"
#include "tools/lib/cli.h"
#include "tools/lib/toml_config.h"

namespace tg::tools {

using gmm::LossKind;
using gmm::TgmmConfig;
using gmm::TrainOptions;
using gmm::WeightHead;

namespace {

// A setting's value as its flag would take it (for the recipe summary in --help).
std::string setting_text(int64_t v) { return std::to_string(v); }
std::string setting_text(int v) { return std::to_string(v); }
std::string setting_text(uint64_t v) { return std::to_string(v); }
std::string setting_text(bool v) { return v ? "true" : "false"; }
std::string setting_text(double v) { return cli::format_double(v); }
std::string setting_text(const std::string& v) { return v; }
std::string setting_text(const std::vector<int64_t>& v) { return cli::format_int_list(v); }
std::string setting_text(WeightHead v) { return gmm::weight_head_name(v); }
std::string setting_text(LossKind v) { return gmm::loss_kind_name(v); }
std::string setting_text(DType v) { return dtype_name(v); }
std::string setting_text(gmm::Covariance v) { return gmm::covariance_name(v); }

// "--dtype": f32 or f64, the model's floating-point type.
DType parse_float_dtype(const std::string& name) {
  if (name == "f32") return DType::F32;
  if (name == "f64") return DType::F64;
  throw std::invalid_argument("--dtype: '" + name + "' (expected f32 or f64)");
}

// "--device": cpu or cuda.
CLI::Validator device_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return text == "cpu" || text == "cuda" ? "" : cli::quote(text) + " (expected cpu or cuda)";
      },
      "");
}

CLI::Validator recipe_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return text == "paper" ? "" : "unknown recipe " + cli::quote(text) + " (expected paper)";
      },
      "");
}

// `text` wrapped at `width` columns, every line after the first indented by `indent`.
std::string wrapped(const std::string& text, size_t width, const std::string& indent) {
  std::string out, line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = indent;
    }
    line += (line.empty() || line == indent ? "" : " ") + word;
    start = end + 1;
  }
  return out + line;
}

// What --resume does with a setting (train_flags.h).
enum class OnResume {
  Same,   // shapes the trajectory: the checkpoint's value, and given, it must be that value
  Saved,  // the run's length and reporting: the checkpoint's value unless given
  Given,  // where the run runs: as given now
};

OnResume on_resume(const std::string& name) {
  static const std::set<std::string> length = {"steps", "eval-every", "eval-n", "eval-tasks",
                                               "checkpoint-every"};
  static const std::set<std::string> place = {"threads", "out", "resume", "replica-check-every"};
  if (length.count(name)) return OnResume::Saved;
  if (place.count(name)) return OnResume::Given;
  return OnResume::Same;
}

// The setting's member of a TrainOptions, or of its model, const or not.
template <auto member>
struct Field {
  template <class Options>
  auto& operator()(Options& o) const {
    return o.*member;
  }
};
template <auto member>
struct ModelField {
  template <class Options>
  auto& operator()(Options& o) const {
    return o.model.*member;
  }
};

}  // namespace

template <class Member>
void TrainFlags::add(const std::string& name, CLI::Option* option, Member field) {
  settings_.push_back(
      {name, option,
       [field](TrainOptions& to, const TrainOptions& from) { field(to) = field(from); },
       [field](const TrainOptions& o) { return setting_text(field(o)); }});
}

// One setting of each kind, bound to the member `field` picks (a Field or a ModelField).
template <class Member>
void TrainFlags::number(const std::string& name, const std::string& meaning, Member field) {
  add(name, cli::add_number(app_, "--" + name, field(options_), meaning), field);
}
template <class Member>
void TrainFlags::int_list(const std::string& name, const std::string& meaning, Member field) {
  add(name, cli::add_int_list(app_, "--" + name, field(options_), meaning), field);
}
template <class Member>
void TrainFlags::text(const std::string& name, const std::string& type, const std::string& meaning,
                      Member field) {
  add(name, cli::add_text(app_, "--" + name, field(options_), type, meaning), field);
}
template <class Member, class Parse, class Name>
void TrainFlags::choice(const std::string& name, const std::string& type, Parse parse, Name name_of,
                        const std::string& meaning, Member field) {
  add(name, cli::add_choice(app_, "--" + name, field(options_), parse, name_of, type, meaning),
      field);
}

void TrainFlags::add_model_settings() {
  number("d", "dimension of the points", ModelField<&TgmmConfig::d>{});
  int_list("ks", "component counts K, one readout each", ModelField<&TgmmConfig::ks>{});
  number("k-max", "slots of every readout and rows of the task embedding (>= the largest K)",
         ModelField<&TgmmConfig::k_max>{});
  option("k-max")->default_str("max of --ks");
  number("embd", "width D of the transformer", ModelField<&TgmmConfig::embd>{});
  number("layers", "transformer blocks L", ModelField<&TgmmConfig::layers>{});
  number("heads", "attention heads H", ModelField<&TgmmConfig::heads>{});
  number("positions", "longest N a gpt2 backbone reads (raised to --n and --eval-n)",
         ModelField<&TgmmConfig::n_positions>{});
  text("backbone", "gpt2|set", "gpt2: causal, learned positions; set: bidirectional, none",
       ModelField<&TgmmConfig::backbone>{});
  choice("weight-head", "average|slot", gmm::parse_weight_head, gmm::weight_head_name,
         "weight logits: the slots' average (the paper's), or each slot's own",
         ModelField<&TgmmConfig::weight_head>{});
  choice("dtype", "f32|f64", parse_float_dtype, dtype_name,
         "number type of the parameters, training and checkpoint (f64: slower, for exact "
         "comparisons)",
         ModelField<&TgmmConfig::dtype>{});
  choice("covariance", "unit|diag", gmm::parse_model_covariance, gmm::covariance_name,
         "unit: means and weights; diag: also per-coordinate scales, trained and evaluated on "
         "anisotropic tasks against diagonal EM",
         ModelField<&TgmmConfig::covariance>{});
}

void TrainFlags::add_training_settings() {
  number("n", "most points per training task (N/2 to N)", Field<&TrainOptions::n>{});
  number("n-start",
         "curriculum over N: most points per training task at the first step, raised linearly to "
         "--n by the middle of the run (0: off)",
         Field<&TrainOptions::n_start>{});
  number("batch", "tasks per K per step", Field<&TrainOptions::batch>{});
  number("steps", "optimiser steps in all", Field<&TrainOptions::steps>{});
  number("lr", "peak learning rate of AdamW", Field<&TrainOptions::lr>{});
  number("min-lr", "floor of the cosine schedule", Field<&TrainOptions::min_lr>{});
  number("wd", "AdamW weight decay", Field<&TrainOptions::wd>{});
  number("warmup", "linear warm-up steps", Field<&TrainOptions::warmup>{});
  text("schedule", "cosine|constant", "learning rate after the warm-up",
       Field<&TrainOptions::schedule>{});
  number("clip", "global gradient-norm clip (0: off)", Field<&TrainOptions::clip>{});
  choice("loss", "sorted|hungarian", gmm::parse_loss_kind, gmm::loss_kind_name,
         "slot targets: by ascending weight (the paper's), or matched",
         Field<&TrainOptions::loss>{});
  number("seed", "seed of the initialisation and data", Field<&TrainOptions::seed>{});
  number("threads",
         "CPU threads (0: all; default: all if OMP_WAIT_POLICY=passive or GOMP_SPINCOUNT is set, as "
         "tools/train does, else 1; under mpirun: "
         "the cores a process is bound to, else the cores / processes per machine)",
         Field<&TrainOptions::threads>{});
}

void TrainFlags::add_output_settings() {
  number("eval-every", "evaluate every this many steps (0: only at the end)",
         Field<&TrainOptions::eval_every>{});
  int_list("eval-n", "points per evaluation task", Field<&TrainOptions::eval_ns>{});
  number("eval-tasks", "evaluation tasks per K and N", Field<&TrainOptions::eval_tasks>{});
  number("checkpoint-every", "checkpoint every this many steps (0: only at the end)",
         Field<&TrainOptions::checkpoint_every>{});
  text("out", "DIR", "where the run writes its files", Field<&TrainOptions::out>{});
  add("resume",
      app_.add_flag("--resume", options_.resume,
                    "continue the run in --out from its last checkpoint, with its settings "
                    "(below)"),
      Field<&TrainOptions::resume>{});
}

void TrainFlags::add_process_settings() {
  number("replica-check-every",
         "with several processes: compare their parameters every this many steps (0: at the "
         "end only)",
         Field<&TrainOptions::replica_check_every>{});
  app_.add_option("--procs", procs_,
                  "run as P processes: tools/train --procs P starts them on this machine with "
                  "mpirun (docs/distributed.md)")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            const bool digits = !text.empty() && text.size() < 7 &&
                                text.find_first_not_of("0123456789") == std::string::npos;
            return digits && std::stoi(text) > 0 ? "" : "'" + text + "' is not a positive integer";
          },
          ""))
      ->type_name("P")
      ->default_str("")
      ->configurable(false)
      ->group("Processes");
}

// Puts the settings added since `first` into the help's group `name`.
void TrainFlags::group(size_t first, const std::string& name) {
  for (size_t i = first; i < settings_.size(); ++i) settings_[i].option->group(name);
}

TrainFlags::TrainFlags(CLI::App& app) : app_(app) {
  cli::configure(app);
  add_model_settings();
  group(0, "Model");
  size_t first = settings_.size();
  add_training_settings();
  group(first, "Training");
  first = settings_.size();
  add_output_settings();
  group(first, "Output");
  first = settings_.size();
  add_process_settings();
  group(first, "Processes");
  add_toml_config(app, "a TOML file of settings, keyed by flag name without dashes")->group("Run");
  app.add_option("--recipe", recipe_, "the paper's architecture and recipe (below)")
      ->check(recipe_check())
      ->type_name("paper")
      ->configurable(false)
      ->group("Run");
  cli::add_choice(app, "--device", options_.device, parse_device, device_name, "cpu|cuda",
                  "where the model trains (tasks and evaluation: the CPU)")
      ->check(device_check())
      ->configurable(false)
      ->group("Run");
  app.footer(
      wrapped("Where a setting comes from, strongest first: its flag; its key in the --config "
              "file (the flag's name without dashes: layers = 4, ks = [2, 3, 4, 5], backbone = "
              "\"set\"); --recipe; the default, shown in [brackets].",
              100, "") +
      "\n\n" + wrapped("--recipe paper sets: " + recipe_summary() + ".", 100, "  ") + "\n\n" +
      wrapped("Several processes (docs/distributed.md): `tools/train --procs P` on this machine "
              "(mpirun -np P --bind-to none, --oversubscribe beyond the cores, "
              "--allow-run-as-root as root), or `mpirun -np P [--hostfile FILE] build/bin/train` "
              "across machines. Each step's tasks are split between the processes and their "
              "gradients summed: the same run as one process, up to float summation order. "
              "Every process must be given the same settings (--threads aside: by default the "
              "cores of each machine divided among its processes).",
              100, "") +
      "\n\n" + wrapped(resume_summary(), 100, ""));
}

std::string TrainFlags::resume_summary() const {
  std::string length, place;
  for (const auto& s : settings_) {
    if (on_resume(s.name) == OnResume::Saved) length += (length.empty() ? "--" : ", --") + s.name;
    if (on_resume(s.name) == OnResume::Given && s.name != "resume") place += "--" + s.name + ", ";
  }
  return "--resume takes the checkpoint's settings: a model or training setting given again (flag, "
         "config key or --recipe) must have its saved value, else the run is refused naming each "
         "difference. " +
         length + " may change (the checkpoint's unless given); " + place +
         "--device are as given. The cosine schedule decays over --steps: with another --steps "
         "the steps after the checkpoint follow the schedule of a run that long (the learning "
         "rate moves to that schedule's value at the checkpoint's step).";
}

std::string TrainFlags::recipe_summary() const {
  TrainOptions paper;
  gmm::apply_paper_recipe(paper);
  const TrainOptions defaults;
  std::string summary;
  for (const auto& s : settings_) {
    if (s.text(paper) == s.text(defaults)) continue;
    summary += (summary.empty() ? "" : ", ") + s.name + "=" + s.text(paper);
  }
  return summary;
}

CLI::Option* TrainFlags::option(const std::string& name) const {
  for (const auto& s : settings_) {
    if (s.name == name) return s.option;
  }
  throw std::logic_error("TrainFlags: no setting '" + name + "'");
}

bool TrainFlags::given(const std::string& name) const { return option(name)->count() > 0; }

std::vector<std::pair<std::string, std::string>> TrainFlags::describe(const TrainOptions& o) const {
  std::vector<std::pair<std::string, std::string>> text;
  for (const auto& s : settings_) text.emplace_back(s.name, s.text(o));
  text.emplace_back("device", device_name(o.device));
  return text;
}

std::vector<std::string> TrainFlags::names() const {
  std::vector<std::string> names;
  for (const auto& s : settings_) names.push_back(s.name);
  return names;
}

std::string TrainFlags::value_of(const TrainOptions& o, const std::string& name) const {
  for (const auto& s : settings_) {
    if (s.name == name) return s.text(o);
  }
  throw std::logic_error("TrainFlags: no setting '" + name + "'");
}

bool TrainFlags::chosen(const Setting& s) const {
  if (s.option->count() > 0) return true;
  if (recipe_ != "paper") return false;
  TrainOptions paper;
  gmm::apply_paper_recipe(paper);
  return s.text(paper) != s.text(TrainOptions{});
}

void TrainFlags::take_checkpoint_settings(TrainOptions& o) const {
  const nn::Checkpoint checkpoint = nn::read_checkpoint(o.out);
  TrainOptions saved;
  try {
    saved = gmm::saved_options(o, checkpoint.model_metadata, checkpoint.training_metadata);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("--resume: the checkpoint in " + o.out + ": " + e.what());
  }
  std::string differences;
  for (const auto& s : settings_) {
    const OnResume rule = on_resume(s.name);
    if (rule == OnResume::Given || s.text(saved) == s.text(o)) continue;
    if (!chosen(s)) {
      s.copy(o, saved);
    } else if (rule == OnResume::Same) {
      differences += (differences.empty() ? "" : "; ") + s.name + " " + s.text(saved) +
                     " (saved) vs " + s.text(o) + " (given)";
    }
  }
  if (!differences.empty()) {
    throw std::invalid_argument("--resume: the checkpoint in " + o.out +
                                " was trained with different settings: " + differences);
  }
}

// CLI11 reads the config file of the top-level App only. For a subcommand (tools/bench train)
// the file is read here in the same way: through TomlConfig, each value applied to its option
// where the command line left it unset.
void TrainFlags::read_subcommand_config() {
  const CLI::Option* config = app_.get_config_ptr();
  if (app_.get_parent() == nullptr || config->count() == 0) return;
  const std::string path = config->as<std::string>();
  for (const CLI::ConfigItem& item : app_.get_config_formatter()->from_file(path)) {
    CLI::Option* option = app_.get_option("--" + item.name);
    if (option->count() > 0) continue;
    option->add_result(item.inputs);
    option->run_callback();
  }
}

TrainOptions TrainFlags::resolve() {
  read_subcommand_config();
  TrainOptions o = options_;
  if (recipe_ == "paper") {
    TrainOptions paper;
    gmm::apply_paper_recipe(paper);
    for (const auto& s : settings_) {
      if (s.option->count() == 0) s.copy(o, paper);
    }
  }
  try {
    require_device(o.device, "--device cuda");  // built with CUDA, and a GPU is visible
  } catch (const std::runtime_error& e) {
    throw std::invalid_argument(e.what());
  }
  // Resuming: the checkpoint's settings (without one, the run refuses to start, exit code 1).
  const bool resumed = o.resume && nn::checkpoint_exists(o.out);
  if (resumed) take_checkpoint_settings(o);
  // The readouts' slots: the largest K unless given; the baselines: those of the covariance.
  if (!resumed && !given("k-max") && !o.model.ks.empty()) {
    o.model.k_max = *std::max_element(o.model.ks.begin(), o.model.ks.end());
  }
  o.baselines = gmm::default_baselines(o.model.covariance);
  // Positions must cover training and evaluation lengths (the gpt2 backbone).
  if (!resumed && !given("positions")) {
    for (int64_t n : o.eval_ns) o.model.n_positions = std::max(o.model.n_positions, n);
    o.model.n_positions = std::max(o.model.n_positions, o.n);
  }
  o.validate();
  return o;
}

}  // namespace tg::tools
