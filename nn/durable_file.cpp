// durable_file.cpp — atomic, durable file writes on POSIX calls (see durable_file.h).
#include "nn/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <utility>
#include <vector>

namespace tg::nn {

namespace fs = std::filesystem;

namespace {

FaultHook& fault_hook() {
  static FaultHook hook;
  return hook;
}

[[noreturn]] void fail(const std::string& op, const std::string& file, const std::string& call,
                       int error) {
  throw std::runtime_error(op + ": '" + file + "': " + call + ": " + std::strerror(error));
}

std::string directory_of(const std::string& path) {
  const std::string dir = fs::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

void set_fault_hook(FaultHook hook) { fault_hook() = std::move(hook); }

void fault_point(const std::string& point) {
  if (fault_hook()) fault_hook()(point);
}

// ---------------------------------------------------------------------------------- AtomicFile
AtomicFile::AtomicFile(const std::string& target, const std::string& op)
    : target_(target), op_(op) {
  static std::atomic<uint64_t> counter{0};
  for (int attempt = 0; fd_ < 0; ++attempt) {
    tmp_ = target + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    fault_point("create " + tmp_);
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && (errno != EEXIST || attempt > 100)) {
      fail(op_, target_, "cannot create a temporary file", errno);
    }
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!published_) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  fault_point("write " + tmp_);
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail(op_, target_, "write", errno);
    if (w == 0) fail(op_, target_, "write", EIO);
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFile::finish() {
  if (fd_ < 0) return;
  fault_point("fsync " + tmp_);
  if (::fsync(fd_) != 0) fail(op_, target_, "fsync", errno);
  fault_point("close " + tmp_);
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) fail(op_, target_, "close", errno);
}

void AtomicFile::publish() {
  finish();
  fault_point("rename " + tmp_ + " -> " + target_);
  if (::rename(tmp_.c_str(), target_.c_str()) != 0) fail(op_, target_, "rename", errno);
  published_ = true;
  sync_directory(directory_of(target_), op_);
}

// ---------------------------------------------------------------------- directory operations
void durable_rename(const std::string& from, const std::string& to, const std::string& op) {
  fault_point("rename " + from + " -> " + to);
  if (::rename(from.c_str(), to.c_str()) != 0) fail(op, from, "rename to '" + to + "'", errno);
  sync_directory(directory_of(to), op);
}

void durable_remove(const std::string& path, const std::string& op) {
  if (!fs::exists(fs::symlink_status(path))) return;
  fault_point("remove " + path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail(op, path, "remove", errno);
  sync_directory(directory_of(path), op);
}

void sync_directory(const std::string& dir, const std::string& op) {
  fault_point("fsync directory " + dir);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(op, dir, "open directory", errno);
  // Some file systems cannot fsync a directory (EINVAL, ENOTSUP): the data itself is on disk.
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0 && error != EINVAL && error != ENOTSUP) fail(op, dir, "fsync directory", error);
}

void remove_stale_temporaries(const std::string& target, const std::string& op) {
  const fs::path dir = directory_of(target);
  const std::string prefix = fs::path(target).filename().string() + ".tmp.";
  std::vector<std::string> stale;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) stale.push_back(entry.path().string());
  }
  for (const std::string& path : stale) durable_remove(path, op);
}

}  // namespace tg::nn
