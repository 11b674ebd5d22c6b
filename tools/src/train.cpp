// train.cpp — tools/train, the main job: train TGMM, then compare it with EM and spectral.
//
// The settings (flags, TOML config, --recipe paper, and the built-in default: a small model and
// recipe that trains on a 2-core CPU in minutes, docs/results.md) are in tools/lib/train_flags.h.
//
// Exit codes: 0 done; 1 training diverged or failed; 2 bad flags or config; 130 stopped by
// SIGINT/SIGTERM after saving a checkpoint (continue with --resume).
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>

#include "gmm/tgmm/trainer.h"
#include "tools/lib/train_flags.h"
#include "tools/lib/training_plots.h"

using namespace tg;
using namespace tg::gmm;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the program at once
  std::signal(SIGTERM, SIG_DFL);
}

int fail_usage(const std::string& message) {
  std::fprintf(stderr, "train: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tools/train — train TGMM on the CPU and compare it with EM and spectral"};
  tg::tools::TrainFlags flags(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help() << "\n" << tg::tools::train_settings_help();
    return 0;
  } catch (const CLI::ParseError& e) {
    return fail_usage(e.what());
  }

  TrainOptions o;
  try {
    o = flags.resolve();
  } catch (const std::exception& e) {
    return fail_usage(e.what());
  }

  o.after_evaluation = [&o] {
    try {
      tg::tools::write_training_plots(o.out);
    } catch (const std::exception& e) {
      std::cerr << "train: plots: " << e.what() << "\n";
    }
  };
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    const TrainResult r = train_tgmm(o, std::cout, &g_stop);
    if (r.interrupted) {
      std::cout << "train: " << r.message << " in " << o.out << " (continue with --resume)\n";
      return 130;
    }
    if (r.diverged) {
      std::fprintf(stderr, "train: %s\n", r.message.c_str());
      return 1;
    }
    std::cout << "\nFinal evaluation (" << o.eval_tasks
              << " fresh tasks per K and N, d = " << o.model.d << "):\n";
    print_table(std::cout, r.final_eval);
    std::cout
        << "\nwrote " << o.out
        << "/{model.safetensors, train.jsonl, eval.json, loss.png, loss.svg, error_vs_step.png, "
           "error_vs_step.svg}\n";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train: %s\n", e.what());
    return 1;
  }
  return 0;
}
