// gnuplot.cpp — running gnuplot on a script and publishing its images (see gnuplot.h).
#include "tools/lib/gnuplot.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace tg::tools {

namespace fs = std::filesystem;

namespace {

// A fresh folder beside `near` (".gnuplot-XXXXXX"), removed with everything in it on scope exit.
class WorkFolder {
 public:
  explicit WorkFolder(const fs::path& near) {
    const fs::path parent = near.parent_path().empty() ? fs::path(".") : near.parent_path();
    std::string pattern = (parent / ".gnuplot-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("cannot create a work folder in " + parent.string() + ": " +
                               std::strerror(errno));
    }
    path_ = fs::absolute(pattern);
  }
  ~WorkFolder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  WorkFolder(const WorkFolder&) = delete;
  WorkFolder& operator=(const WorkFolder&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

// The last non-blank line of `path` (gnuplot ends a complaint with "file" line N: what), trimmed.
std::string last_line(const fs::path& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    const auto begin = line.find_first_not_of(" \t\r");
    if (begin != std::string::npos)
      last = line.substr(begin, line.find_last_not_of(" \t\r") + 1 - begin);
  }
  return last;
}

// Starts `executable --default-settings plot.gp` inside `folder` (no user or system init file:
// the same pictures on every machine) and waits for it; returns its wait status.
int spawn_in(const std::string& executable, const fs::path& folder) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, folder.c_str());
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "gnuplot.log",
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::string arg0 = executable, arg1 = "--default-settings", arg2 = "plot.gp";
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
  pid_t pid = 0;
  const int error = posix_spawn(&pid, executable.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    throw std::runtime_error("cannot start " + executable + ": " + std::strerror(error));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
  }
  return status;
}

void check_status(int status, const fs::path& log) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::string what =
      WIFEXITED(status) ? "gnuplot failed (exit status " + std::to_string(WEXITSTATUS(status)) + ")"
                        : "gnuplot was killed by signal " + std::to_string(WTERMSIG(status));
  const std::string said = last_line(log);
  throw std::runtime_error(said.empty() ? what : what + ": " + said);
}

}  // namespace

std::string find_program(const std::string& name) {
  auto executable = [](const fs::path& p) {
    struct stat st {};
    return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
  };
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos)
    return executable(name) ? fs::absolute(name).string() : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
    if (executable(candidate)) return fs::absolute(candidate).string();
  }
  return "";
}

void run_gnuplot(const GnuplotJob& job, const std::string& program) {
  const std::string executable = find_program(program);
  if (executable.empty()) {
    throw GnuplotMissing(program + " is not on PATH (Debian package gnuplot-nox)");
  }
  if (job.outputs.empty()) throw std::invalid_argument("run_gnuplot: a job without outputs");
  const WorkFolder work(job.outputs.front().second);
  for (const auto& [name, text] : job.data) write_text(work.path() / name, text);
  write_text(work.path() / "plot.gp", job.script);
  check_status(spawn_in(executable, work.path()), work.path() / "gnuplot.log");
  for (const auto& [name, target] : job.outputs) {
    if (!fs::exists(work.path() / name)) {
      throw std::runtime_error("gnuplot wrote no " + name + " (for " + target + ")");
    }
  }
  for (const auto& [name, target] : job.outputs) {
    std::error_code error;
    fs::rename(work.path() / name, target, error);  // atomic: the old image or the new one
    if (error) throw std::runtime_error("cannot write " + target + ": " + error.message());
  }
}

void add_figure(GnuplotJob& job, const GnuplotFigure& figure,
                const std::vector<std::string>& paths) {
  for (const auto& [name, text] : figure.data) {
    if (!job.data.emplace(name, text).second) {
      throw std::invalid_argument("add_figure: two data files named " + name);
    }
  }
  for (const std::string& path : paths) {
    const std::string name = fs::path(path).filename().string();
    for (const auto& output : job.outputs) {
      if (output.first == name) throw std::invalid_argument("add_figure: two images named " + name);
    }
    job.script += terminal_for(path, figure.width, figure.height) + "set output " +
                  gnuplot_quote(name) + "\n" + figure.commands + "set output\n";
    job.outputs.emplace_back(name, path);
  }
}

std::string gnuplot_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "''";
    } else {
      out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
    }
  }
  return out + "'";
}

std::string gnuplot_number(double value) {
  if (!std::isfinite(value)) return "NaN";
  char buffer[32];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  return std::string(buffer, end);
}

std::string png_terminal(int width, int height) {
  return "set terminal pngcairo size " + std::to_string(width) + "," + std::to_string(height) +
         " font 'sans,10' noenhanced\n";
}

std::string svg_terminal(int width, int height) {
  return "set terminal svg size " + std::to_string(width) + "," + std::to_string(height) +
         " font 'sans,10' noenhanced background '#ffffff'\n";
}

std::string terminal_for(const std::string& path, int width, int height) {
  const std::string extension = fs::path(path).extension().string();
  if (extension == ".png") return png_terminal(width, height);
  if (extension == ".svg") return svg_terminal(width, height);
  throw std::invalid_argument(path + ": the image name must end in .png or .svg");
}

std::string palette_color(size_t index) {
  static const char* const kTab10[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                       "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kTab10[index % 10];
}

}  // namespace tg::tools
