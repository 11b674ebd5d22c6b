// private_tmpdir.h — each test process gets its own temporary folder.
//
// Tests (and the programs they run) write files under std::filesystem::temp_directory_path(),
// often with fixed names. Two suites running at once — ctest -j, or two checkouts on one
// machine — would then overwrite each other's files. PrivateTmpdir points TMPDIR (which
// temp_directory_path() reads, and which child processes inherit) at a fresh folder named after
// the process id, and removes that folder when the suite ends.
#pragma once
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace tg::testing {

class PrivateTmpdir {
 public:
  PrivateTmpdir() {
    const std::filesystem::path parent = std::filesystem::temp_directory_path();
    dir_ = parent / ("tg-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    ::setenv("TMPDIR", dir_.c_str(), 1);
  }
  ~PrivateTmpdir() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  PrivateTmpdir(const PrivateTmpdir&) = delete;
  PrivateTmpdir& operator=(const PrivateTmpdir&) = delete;

 private:
  std::filesystem::path dir_;
};

}  // namespace tg::testing
