// train.cpp — tools/train, the main job: train TGMM, then compare it with EM and spectral.
//
// The settings (flags, TOML config, --recipe paper, and the built-in default: a small model and
// recipe that trains on a 2-core CPU in minutes, docs/results.md) are in tools/lib/train_flags.h;
// the run itself is gmm::train_tgmm (gmm/tgmm/trainer.h). This program prints its progress
// (tools/lib/progress.h), draws the plots after each evaluation and prints the final table.
//
// Exit codes: 0 done; 1 training diverged or failed, or --resume found no readable checkpoint;
// 2 bad flags or config, or --resume with settings that contradict the checkpoint's (one line
// naming each); 130 stopped by SIGINT/SIGTERM after saving a checkpoint at the current step
// (continue with --resume: bit-identical to a run that never stopped, docs/reliability.md).
//
// As one of several processes (`mpirun -np P build/bin/train`, or `tools/train --procs P`;
// docs/distributed.md) it first checks that every process was given the same settings
// (tools/lib/processes.h); rank 0 then prints and draws what one process would, the others stay
// silent. An error on any process ends the whole job (MPI_Abort) with "train: rank R: message".
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "gmm/tgmm/trainer.h"
#include "nn/distributed.h"
#include "tools/lib/cli.h"
#include "tools/lib/processes.h"
#include "tools/lib/progress.h"
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

// The console progress, and the plots redrawn after every evaluation.
class TrainConsole : public tools::ConsoleProgress {
 public:
  TrainConsole() : ConsoleProgress(std::cout, isatty(STDOUT_FILENO)) {}
  void on_start(const TrainingRun& run) override {
    if (run.communicator().distributed()) {
      std::cout << tools::processes_line(run.options(), run.communicator()) << "\n";
    }
    ConsoleProgress::on_start(run);
  }
  void on_evaluation(const TrainingRun& run, const Evaluation& e, bool final) override {
    try {
      tools::write_training_plots(run.options().out);
    } catch (const std::exception& err) {
      std::cerr << "train: plots: " << err.what() << "\n";
    }
    ConsoleProgress::on_evaluation(run, e, final);
  }
};

void print_final_table(const TrainOptions& o, const TrainResult& r) {
  std::cout << "\nFinal evaluation (" << o.eval_tasks
            << " fresh tasks per K and N, d = " << o.model.d << "):\n";
  print_table(std::cout, r.final_eval);
  std::cout
      << "\nwrote " << o.out
      << "/{model.safetensors, train.jsonl, eval.json, loss.png, loss.svg, error_vs_step.png, "
         "error_vs_step.svg}\n";
}

// Trains until done, diverged or stopped; returns the exit code. Rank 0 alone prints.
int train(const TrainOptions& o, const nn::Communicator& comm) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  TrainConsole console;
  const bool root = comm.is_root();
  try {
    const TrainResult r = train_tgmm(o, root ? &console : nullptr, &g_stop);
    if (r.interrupted) {
      if (root)
        std::cout << "train: " << r.message << " in " << o.out << " (continue with --resume)\n";
      return 130;
    }
    if (r.diverged) {
      if (root) std::fprintf(stderr, "train: %s\n", r.message.c_str());
      return 1;
    }
    if (root) print_final_table(o, r);
  } catch (const std::exception& e) {
    if (!comm.distributed()) {
      std::fprintf(stderr, "train: %s\n", e.what());
      return 1;
    }
    std::fprintf(stderr, "train: rank %d: %s\n", comm.rank(), e.what());
    comm.abort(1);  // the other processes may be waiting for this one
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tools/train — train TGMM on the CPU and compare it with EM and spectral"};
  tools::TrainFlags flags(app);
  if (auto exit_code = tools::cli::parse(app, argc, argv, "train")) return *exit_code;
  TrainOptions options;
  nn::Communicator* comm = nullptr;
  try {
    options = flags.resolve();
    comm = &nn::Communicator::world();        // MPI starts here when mpirun started us
  } catch (const std::invalid_argument& e) {  // bad or contradicting settings
    return tools::cli::usage_error("train", e.what());
  } catch (const std::exception& e) {  // the checkpoint to resume cannot be read
    std::fprintf(stderr, "train: %s\n", e.what());
    return 1;
  }
  if (auto exit_code = tools::check_processes(flags, options, *comm, "train")) return *exit_code;
  return train(options, *comm);
}
