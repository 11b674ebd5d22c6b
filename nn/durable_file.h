// durable_file.h — writing files so that a crash or a failed write never leaves a torn file,
// and the fault-injection hook that tests it.
//
// AtomicFile writes to a temporary file next to its target, "<target>.tmp.<pid>.<n>" (the same
// directory, so the same file system, so the rename is atomic), and publishes it in two steps:
//   finish()   fsync + close: the bytes are on disk, under the temporary name;
//   publish()  rename over the target, then fsync the directory so the rename is on disk too.
// Until publish() the target is untouched; a temporary that was not published is removed by the
// destructor. A process killed before publish() leaves its temporary behind:
// remove_stale_temporaries(target) removes those (one writer per target at a time).
//
// Errors throw std::runtime_error with one line, "<op>: '<file>': <call>: <reason>", e.g.
//   "write_safetensors: 'runs/a/model.safetensors': write: File too large"
// where <op> is the caller's operation and <file> the target (not the temporary name).
//
// Fault points. Every call that changes the file system (create, each write, fsync, close,
// rename, remove, directory fsync) first calls fault_point() with a description such as
// "rename runs/a/model.safetensors.tmp.41.0 -> runs/a/model.safetensors". With a hook installed
// (set_fault_hook, tests only) the hook runs there and may throw (a failing call) or end the
// process (a crash at that point); without one, fault_point does nothing.
#pragma once
#include <cstddef>
#include <functional>
#include <string>

namespace tg::nn {

class AtomicFile {
 public:
  // Create the temporary file for `target`; `op` prefixes error messages.
  AtomicFile(const std::string& target, const std::string& op);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void finish();   // fsync + close (idempotent)
  void publish();  // finish() if needed, rename over the target, fsync the directory
  const std::string& target() const { return target_; }

 private:
  std::string target_, tmp_, op_;
  int fd_ = -1;
  bool published_ = false;
};

// rename(from, to) (replacing `to`), then fsync the directory of `to`.
void durable_rename(const std::string& from, const std::string& to, const std::string& op);
// Remove `path` if it exists, then fsync its directory.
void durable_remove(const std::string& path, const std::string& op);
// fsync a directory, so that renames and removals in it survive a power loss.
void sync_directory(const std::string& dir, const std::string& op);
// Remove every "<target>.tmp.*" file: what a killed writer of `target` left behind.
void remove_stale_temporaries(const std::string& target, const std::string& op);

// Testing: the hook called at every fault point (an empty function removes it).
using FaultHook = std::function<void(const std::string& point)>;
void set_fault_hook(FaultHook hook);
void fault_point(const std::string& point);

}  // namespace tg::nn
