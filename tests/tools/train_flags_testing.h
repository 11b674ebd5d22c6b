// train_flags_testing.h — tools/train's flag handling run in-process, for the tests of the
// settings (test_train_flags.cpp, test_resume_settings.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <exception>
#include <string>

#include "tools/lib/train_flags.h"

namespace tg::testing {

// The options tools/train would run with for this command line (without the program name).
inline gmm::TrainOptions resolve(const std::string& args) {
  CLI::App app;
  tools::TrainFlags flags(app);
  app.parse(args, false);
  return flags.resolve();
}

// The one-line message tools/train would print for this command line, or "accepted".
inline std::string refusal(const std::string& args) {
  try {
    resolve(args);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "accepted";
}

}  // namespace tg::testing
