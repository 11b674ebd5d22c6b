// run_program.h — run one of the built programs (build/bin/<name>) as a user would, for the CLI
// tests: its exit code, stdout and stderr.
#pragma once
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
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

// Refused as a usage error: exit 2, nothing on stdout, one line "PROGRAM: ..." holding `needle`.
inline void expect_refused(const Run& r, const std::string& program, const std::string& needle) {
  CAPTURE(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.rfind(program + ": ", 0) == 0);
  CHECK(r.err.find(needle) != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

}  // namespace tg::testing
