// train_flags.h — the training settings as flags and TOML keys, shared by tools/train and
// tools/bench (which times the very model and step that tools/train would run).
//
// Where a setting comes from, strongest first: a flag on the command line, a key of the
// --config TOML file (same names without the dashes, e.g. `layers = 4`, `ks = [2, 3, 4, 5]`),
// the --recipe, the built-in default (default_train_options()).
#pragma once
#include <CLI/CLI.hpp>
#include <map>
#include <string>

#include "gmm/tgmm/trainer.h"

namespace tg::tools {

// Our default: small enough for a 2-core CPU in minutes (docs/results.md).
gmm::TrainOptions default_train_options();

class TrainFlags {
 public:
  // Adds --d, --ks, ... (every setting), --resume, --recipe, --config and --device to `app`.
  explicit TrainFlags(CLI::App& app);
  // After app.parse(): the options, from defaults, recipe, config file and flags in that order.
  // Throws std::invalid_argument with a one-line message (bad value, unknown key, bad recipe).
  gmm::TrainOptions resolve() const;
  // Whether the setting `name` (without dashes) was given as a flag or in the config file.
  bool given(const std::string& name) const;
  const std::string& device() const { return device_; }

 private:
  std::map<std::string, std::string> values_;  // flag values as given
  std::map<std::string, CLI::Option*> options_;
  bool resume_ = false;
  std::string recipe_, config_, device_ = "cpu";
  mutable std::map<std::string, bool> from_config_;
};

// The settings list for --help.
std::string train_settings_help();

}  // namespace tg::tools
