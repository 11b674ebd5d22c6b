// run_program.h — run one of the built programs (build/bin/<name>) as a user would, for the CLI
// tests: its exit code, stdout and stderr.
#pragma once
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace tg::testing {

struct Run {
  int exit_code = -1;
  std::string out, err;
};

// `program` sits next to the running test binary; `args` is a shell-quoted argument string;
// `environment` (e.g. "PATH=/tmp/x") is set for the program only.
inline Run run_program(const std::string& program, const std::string& args,
                       const std::string& environment = "") {
  namespace fs = std::filesystem;
  const fs::path bin = fs::read_symlink("/proc/self/exe").parent_path() / program;
  const fs::path dir = fs::temp_directory_path();
  const std::string out = (dir / ("tg_" + program + "_out.txt")).string(),
                    err = (dir / ("tg_" + program + "_err.txt")).string();
  const int status = std::system(
      (environment + " " + bin.string() + " " + args + " >" + out + " 2>" + err).c_str());
  Run r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::stringstream so, se;
  so << std::ifstream(out).rdbuf();
  se << std::ifstream(err).rdbuf();
  r.out = so.str();
  r.err = se.str();
  return r;
}

}  // namespace tg::testing
