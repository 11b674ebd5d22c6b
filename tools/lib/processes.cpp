// processes.cpp — the start-up checks of a program run as several processes (see processes.h).
#include "tools/lib/processes.h"

#include <sstream>

#include "tools/lib/cli.h"

namespace tg::tools {

namespace {

// "name=value" lines, one per setting: what rank 0 sends.
std::string settings_text(const std::vector<std::pair<std::string, std::string>>& settings) {
  std::string text;
  for (const auto& [name, value] : settings) text += name + "=" + value + "\n";
  return text;
}

std::vector<std::pair<std::string, std::string>> parse_settings(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> settings;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const size_t eq = line.find('=');
    settings.emplace_back(line.substr(0, eq), line.substr(eq + 1));
  }
  return settings;
}

}  // namespace

std::optional<int> check_processes(const TrainFlags& flags, const gmm::TrainOptions& options,
                                   const nn::Communicator& comm, const std::string& program) {
  if (flags.procs() > 0 && flags.procs() != comm.size()) {
    if (comm.is_root()) {
      const std::string p = std::to_string(flags.procs());
      cli::usage_error(program, "--procs " + p + ", but this is " + std::to_string(comm.size()) +
                                    " process" + (comm.size() == 1 ? "" : "es") +
                                    ": start it with tools/" + program + " --procs " + p +
                                    " or mpirun -np " + p);
    }
    return 2;
  }
  if (!comm.distributed()) return std::nullopt;
  const auto mine = flags.describe(options);
  std::string text = settings_text(mine);
  comm.broadcast(text);
  const auto root = parse_settings(text);
  int64_t first = static_cast<int64_t>(mine.size());  // the first differing setting, if any
  for (size_t i = 0; i < mine.size(); ++i) {
    if (mine[i].first == "threads") continue;
    if (i >= root.size() || root[i] != mine[i]) {
      first = static_cast<int64_t>(i);
      break;
    }
  }
  // The lowest (setting, rank) that differs, agreed by every process.
  const int64_t none = static_cast<int64_t>(mine.size()) * comm.size();
  const int64_t code = comm.allreduce_min(
      first < static_cast<int64_t>(mine.size()) ? first * comm.size() + comm.rank() : none);
  if (code == none) return std::nullopt;
  if (comm.rank() == static_cast<int>(code % comm.size())) {
    const auto& [name, value] = mine[static_cast<size_t>(first)];
    const std::string theirs = static_cast<size_t>(first) < root.size() ? root[first].second : "?";
    cli::usage_error(program, "rank " + std::to_string(comm.rank()) + " was given --" + name + " " +
                                  value + ", rank 0 --" + name + " " + theirs +
                                  ": every process must be given the same settings");
  }
  return 2;
}

std::string processes_line(const gmm::TrainOptions& options, const nn::Communicator& comm) {
  const int64_t tasks = options.task_config().batch_size();
  std::ostringstream line;
  line << "processes: " << comm.size() << " (" << comm.local_size() << " on this machine), "
       << options.threads << " thread" << (options.threads == 1 ? "" : "s") << " each; each step's "
       << tasks << " tasks split into blocks of " << tasks / comm.size()
       << (tasks % comm.size() ? "-" + std::to_string(tasks / comm.size() + 1) : "")
       << ", gradients summed over processes"
       << (options.device == Device::CPU ? " (MPI)"
           : comm.device_collectives()   ? " (NCCL, one GPU per process)"
                                         : " (through the host, one GPU per process)");
  return line.str();
}

}  // namespace tg::tools
