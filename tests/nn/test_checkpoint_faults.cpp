// test_checkpoint_faults.cpp — nothing is lost when a checkpoint write fails or the writer dies.
//
// Each case starts from a directory holding the checkpoint of step 1 and writes the one of
// step 2 into it. The write goes through N fault points (nn/durable_file.h: every create, write,
// fsync, close, rename and remove). For every k in 1..N:
//   - the call at point k fails (the fault hook throws): the save throws, and afterwards the
//     directory loads step 1 or step 2, bit for bit, with no temporary file left;
//   - a forked child doing the save dies at point k (SIGKILL, or _exit): the directory loads
//     step 1 or step 2; the next save removes what the dead writer left and succeeds.
// A full disk (RLIMIT_FSIZE, and a small tmpfs where mounting is allowed) fails the save with
// the file and the reason, and step 1 still loads.
#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <set>
#include <thread>

#include "checkpoint_testing.h"
#include "nn/checkpoint.h"
#include "nn/durable_file.h"
#include "testing.h"

using namespace tg;
using namespace tg::nn;
using namespace tg::nn::testing;
using tg::testing::error_of;
namespace fs = std::filesystem;

namespace {

// A model and its optimiser after `steps` training steps, and how to save and check them.
struct Trained {
  TinyModel model{1};
  AdamW opt{model.named_parameters()};
  Generator gen{3};
  int64_t steps;
  explicit Trained(int64_t steps) : steps(steps) {
    for (int64_t s = 0; s < steps; ++s) train_step(model, opt, gen, s);
  }
  void save(const std::string& dir) const {
    save_checkpoint(dir, model, opt, Checkpoint{steps, {{"data", gen.state()}}, {{"k", "v"}}, {}});
  }
  bool same_parameters(const TinyModel& other) const {
    for (const auto& [name, p] : model.named_parameters()) {
      if (!same_bits(p.value(), other.parameter(name).value())) return false;
    }
    return true;
  }
};

// The step of the checkpoint in `dir`, after checking that it is exactly one of the two saves.
int64_t loaded_step(const std::string& dir, const Trained& before, const Trained& after) {
  TinyModel model(99);
  AdamW opt(model.named_parameters());
  const Checkpoint ck = load_checkpoint(dir, model, opt);
  const Trained& expected = ck.step == before.steps ? before : after;
  CHECK((ck.step == before.steps || ck.step == after.steps));
  CHECK(expected.same_parameters(model));
  CHECK(ck.rng_states.at("data") == expected.gen.state());
  return ck.step;
}

// Names in `dir` other than the two checkpoint files.
std::set<std::string> extra_files(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name != kModelFile && name != kTrainingStateFile) out.insert(name);
  }
  return out;
}

// Fault points passed by one save of `after` over `before`.
int count_fault_points(const Trained& before, const Trained& after) {
  TempDir dir;
  before.save(dir.path.string());
  int points = 0;
  set_fault_hook([&](const std::string&) { ++points; });
  after.save(dir.path.string());
  set_fault_hook({});
  return points;
}

// Installs a hook that runs `act` at the k-th fault point (1-based); removed on destruction.
struct FaultAt {
  FaultAt(int k, std::function<void(const std::string&)> act) {
    set_fault_hook([k, act, n = 0](const std::string& point) mutable {
      if (++n == k) act(point);
    });
  }
  ~FaultAt() { set_fault_hook({}); }
};

// Wait for `pid` at most `seconds`; kill it and return -1 if it takes longer.
int wait_for(pid_t pid, int seconds) {
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return status;
}

}  // namespace

TEST_CASE("checkpoint faults: a failure at any point of a save leaves the old or the new one") {
  const Trained before(1), after(2);
  const int points = count_fault_points(before, after);
  MESSAGE(points << " fault points in one checkpoint save");
  CHECK(points >= 20);  // per file: create, writes, fsync, close, rename, directory fsync; ...
  std::map<int64_t, int> outcomes;
  for (int k = 1; k <= points; ++k) {
    TempDir dir;
    const std::string d = dir.path.string();
    before.save(d);
    std::string failed_at;
    {
      FaultAt fault(k, [&](const std::string& point) {
        failed_at = point;
        throw std::runtime_error("injected fault");
      });
      CHECK(error_of([&] { after.save(d); }) == "injected fault");
    }
    CAPTURE(k);
    CAPTURE(failed_at);
    ++outcomes[loaded_step(d, before, after)];
    for (const std::string& name : extra_files(d)) {
      CHECK(name == kPreviousTrainingStateFile);  // never a temporary
    }
    // The next save completes and leaves just the two files.
    const Trained later(3);
    later.save(d);
    CHECK(loaded_step(d, after, later) == 3);
    CHECK(extra_files(d).empty());
  }
  MESSAGE("a failure at each point: " << outcomes[1] << " left step 1, " << outcomes[2]
                                      << " step 2");
  CHECK(outcomes[1] > 0);  // the faults fell on both sides of the switch
  CHECK(outcomes[2] > 0);
  CHECK(outcomes[1] + outcomes[2] == points);
}

TEST_CASE("checkpoint faults: a writer killed at any point leaves the old or the new one") {
  const Trained before(1), after(2);
  const int points = count_fault_points(before, after);
  std::map<int64_t, int> outcomes;
  int left_temporaries = 0;
  for (int k = 1; k <= points + 1; ++k) {  // k = points + 1: the child finishes
    CAPTURE(k);
    TempDir dir;
    const std::string d = dir.path.string();
    before.save(d);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // The child dies at point k: by SIGKILL (odd k) or by _exit without cleanup (even k).
      set_fault_hook([k, n = 0](const std::string&) mutable {
        if (++n != k) return;
        if (k % 2) ::kill(::getpid(), SIGKILL);
        ::_exit(3);
      });
      try {
        after.save(d);
      } catch (...) {
        ::_exit(4);
      }
      ::_exit(0);
    }
    const int status = wait_for(pid, 30);
    REQUIRE(status != -1);
    if (k > points) {
      CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    } else if (k % 2) {
      CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
    } else {
      CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 3));
    }
    ++outcomes[loaded_step(d, before, after)];
    for (const std::string& name : extra_files(d)) {
      left_temporaries += name.find(".tmp.") != std::string::npos;
    }
    const Trained later(3);
    later.save(d);
    CHECK(loaded_step(d, after, later) == 3);
    CHECK(extra_files(d).empty());  // the dead writer's temporaries are gone
  }
  MESSAGE((points + 1) << " kill points: " << outcomes[1] << " left step 1, " << outcomes[2]
                       << " step 2; " << left_temporaries << " temporaries cleaned up");
  CHECK(outcomes[1] > 0);
  CHECK(outcomes[2] > 0);
  CHECK(left_temporaries > 0);
}

namespace {

// Runs `save` in a forked child under a file size limit of `limit` bytes (SIGXFSZ ignored, so
// write() fails with EFBIG); returns the child's error message.
std::string save_with_file_size_limit(rlim_t limit, const std::function<void()>& save) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit small{limit, limit};
    ::setrlimit(RLIMIT_FSIZE, &small);
    const std::string why = error_of(save);
    (void)!::write(fds[1], why.data(), why.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string message;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) message.append(buf, size_t(n));
  ::close(fds[0]);
  const int status = wait_for(pid, 30);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  return message;
}

}  // namespace

TEST_CASE("checkpoint faults: a full disk fails the save with the file and the reason") {
  const Trained before(1), after(2);
  TempDir dir;
  const std::string d = dir.path.string();
  before.save(d);
  const auto state_size = fs::file_size(dir.file(kTrainingStateFile));
  const std::string why = save_with_file_size_limit(state_size / 2, [&] { after.save(d); });
  CHECK(why == "save_checkpoint: '" + dir.file(kTrainingStateFile) + "': write: File too large");
  CHECK(loaded_step(d, before, after) == 1);
  CHECK(extra_files(d).empty());
  after.save(d);  // with room again
  CHECK(loaded_step(d, before, after) == 2);
}

TEST_CASE("checkpoint faults: no space left on a small tmpfs (where mounting is allowed)") {
  TempDir dir;
  const std::string d = dir.path.string();
  if (::mount("tmpfs", d.c_str(), "tmpfs", 0, "size=64k") != 0) {
    MESSAGE("skipped: cannot mount a tmpfs here (" << std::strerror(errno) << ")");
    return;
  }
  struct Unmount {  // before TempDir removes the directory, however the case ends
    std::string dir;
    ~Unmount() { ::umount(dir.c_str()); }
  } unmount{d};
  const Trained before(1), after(2);
  before.save(d);
  {  // fill the file system
    std::ofstream filler(dir.file("filler"), std::ios::binary);
    const std::string block(4096, 'x');
    for (int i = 0; i < 64 && filler.write(block.data(), block.size()); ++i) filler.flush();
  }
  const std::string why = error_of([&] { after.save(d); });
  CHECK(why.rfind("save_checkpoint: '" + dir.file(kTrainingStateFile) + "': ", 0) == 0);
  CHECK(why.find("No space left on device") != std::string::npos);
  CHECK(loaded_step(d, before, after) == 1);
  CHECK(extra_files(d) == std::set<std::string>{"filler"});
  fs::remove(dir.file("filler"));
  after.save(d);
  CHECK(loaded_step(d, before, after) == 2);
}
