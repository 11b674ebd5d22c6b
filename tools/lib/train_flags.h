// train_flags.h — the training settings as typed flags and TOML keys, shared by tools/train and
// tools/bench (which times the very model and step that tools/train would run).
//
// Every setting is one field of gmm::TrainOptions, bound to a flag of the same name (--d,
// --ks, --embd, ..., --out, --resume); its default is the field's default (the default run,
// train_options.h). Where a setting comes from, strongest first:
//   1. its flag on the command line;
//   2. its key in the --config TOML file: the flag's name without dashes (`layers = 4`,
//      `ks = [2, 3, 4, 5]`, `backbone = "set"`; toml_config.h); unknown keys are refused;
//   3. the --recipe (paper: gmm::apply_paper_recipe), for the settings neither of those gave;
//   4. the default.
// --device (cpu|cuda) and --procs are flags only. Help lists every setting with its type,
// default and meaning, and what the recipe changes.
//
// Several processes (docs/distributed.md): --procs P says how many the program must run as (the
// tools/train and tools/bench launchers start them with mpirun); every process must be given the
// same settings, --threads aside (tools/lib/processes.h checks it at start).
//
// With --resume (and a checkpoint in --out) the checkpoint's settings are the run's
// (docs/reliability.md, "Resume and interruption"). Each setting is of one of three kinds:
//   * it shapes the training trajectory (the model, the recipe, the data: every setting not
//     named below): the checkpoint's value; given again (flag, config key, or set by --recipe),
//     it must be that value, else resolve() refuses with every difference named;
//   * the run's length and reporting (--steps, --eval-every, --eval-n, --eval-tasks,
//     --checkpoint-every): the checkpoint's value unless given;
//   * where and how it runs (--threads, --out, --replica-check-every, and --device, --procs): as
//     given now, or the default.
// A checkpoint written before a key existed leaves that setting to the flags and defaults.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gmm/tgmm/train_options.h"

namespace tg::tools {

class TrainFlags {
 public:
  // Adds every setting, --config, --recipe and --device to `app` (bound to this object, which
  // must therefore stay where it is until parsing is done).
  explicit TrainFlags(CLI::App& app);
  TrainFlags(const TrainFlags&) = delete;
  TrainFlags& operator=(const TrainFlags&) = delete;

  // After app.parse(): the options, with the recipe applied under the flags and the config
  // file, the positions stretched to cover every training and evaluation N (unless given), the
  // device checked, validated; with --resume, the checkpoint's settings taken (above). Throws
  // std::invalid_argument with a one-line message for bad or contradicting settings, and
  // std::runtime_error when the checkpoint to resume cannot be read.
  gmm::TrainOptions resolve();
  // Whether the setting `name` (without dashes) was given as a flag or in the config file.
  bool given(const std::string& name) const;
  // The option of setting `name`, e.g. for a program to describe it differently.
  CLI::Option* option(const std::string& name) const;
  // Every setting of `o` as its flag would take it, by flag name ("seed", "42"), then "device".
  std::vector<std::pair<std::string, std::string>> describe(const gmm::TrainOptions& o) const;
  // --procs: the processes the program must run as; 0 when not given.
  int procs() const { return procs_; }
  // Every setting's name (its flag without dashes), in the order of the help.
  std::vector<std::string> names() const;
  // The value of setting `name` in `o`, as its flag would take it.
  std::string value_of(const gmm::TrainOptions& o, const std::string& name) const;

 private:
  struct Setting {
    std::string name;
    CLI::Option* option;
    std::function<void(gmm::TrainOptions& to, const gmm::TrainOptions& from)> copy;
    std::function<std::string(const gmm::TrainOptions&)> text;
  };
  template <class Member>
  void add(const std::string& name, CLI::Option* option, Member field);
  template <class Member>
  void number(const std::string& name, const std::string& meaning, Member field);
  template <class Member>
  void int_list(const std::string& name, const std::string& meaning, Member field);
  template <class Member>
  void text(const std::string& name, const std::string& type, const std::string& meaning,
            Member field);
  template <class Member, class Parse, class Name>
  void choice(const std::string& name, const std::string& type, Parse parse, Name name_of,
              const std::string& meaning, Member field);
  void add_model_settings();
  void add_training_settings();
  void add_output_settings();
  void add_process_settings();
  void group(size_t first, const std::string& name);
  std::string recipe_summary() const;  // "backbone=gpt2, ..." what the paper recipe sets
  std::string resume_summary() const;  // the help's paragraph on what --resume takes
  void read_subcommand_config();
  // Given as a flag or config key, or set by --recipe.
  bool chosen(const Setting& s) const;
  // --resume: the settings of the checkpoint in o.out written into `o` (see above).
  void take_checkpoint_settings(gmm::TrainOptions& o) const;

  CLI::App& app_;

  gmm::TrainOptions options_;  // the flags and config keys write here
  std::vector<Setting> settings_;
  std::string recipe_;
  int procs_ = 0;
};

}  // namespace tg::tools
