// processes.h — what tools/train and tools/bench check when they run as several processes
// (nn/distributed.h, docs/distributed.md), before any work starts.
//
// check_processes() refuses, with exit code 2 and one line on stderr:
//   * --procs P when the program does not run as P processes (e.g. started without mpirun:
//     "--procs 2, but this is 1 process: start it with tools/train --procs 2 or mpirun -np 2");
//   * settings that differ between processes (mpirun's MPMD form `mpirun -np 1 train --seed 1 :
//     -np 1 train --seed 2`): rank 0's settings, as their flags would take them, are compared
//     with every other rank's (--threads aside); the lowest rank that differs prints
//     "rank 1 was given --seed 2, rank 0 --seed 1: every process must be given the same
//     settings" and every process exits 2.
// Every process calls it (the comparison is collective).
#pragma once
#include <optional>
#include <string>

#include "nn/distributed.h"
#include "tools/lib/train_flags.h"

namespace tg::tools {

// nullopt: carry on. Otherwise the exit code (2) every process returns; the line is printed
// ("PROGRAM: message") by one process.
std::optional<int> check_processes(const TrainFlags& flags, const gmm::TrainOptions& options,
                                   const nn::Communicator& comm, const std::string& program);

// One line for rank 0's console: "processes: P (Q on this machine), T threads each; ...".
std::string processes_line(const gmm::TrainOptions& options, const nn::Communicator& comm);

}  // namespace tg::tools
