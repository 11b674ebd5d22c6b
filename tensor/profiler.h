// profiler.h — a lap profiler for training steps: where does a step's time go?
//
// Off by default (one branch per lap). When enabled, the wall time between two consecutive laps is
// charged to the bucket named at the second lap, so every microsecond of a step lands in exactly
// one bucket and nothing is counted twice. The code that laps names its bucket and the bucket's
// family (a coarser group for summaries); this file knows no names of its own. The layers above
// lap as follows:
//   * autograd's make_op laps "<op>" when an op is recorded — the time since the previous lap is
//     that op's forward (its kernels plus the glue around them); the family is the op's entry in
//     autograd/op_registry.h;
//   * the engine laps "<op> backward" after each node's rule and gradient accumulation;
//   * the training step laps its own phases (gmm/tgmm/train_step.cpp).
// tools/bench prints the buckets, and their sums per family.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tg::profile {

// Turn the profiler on or off (clears nothing). Not thread-safe: one training loop at a time.
void enable(bool on);
bool enabled();

// Charge the time since the previous lap to the bucket `name` of `family` (string literals or
// otherwise long-lived; every lap of a name gives the same family), with `backward` selecting the
// "<name> backward" bucket. No-op when disabled.
void lap_slow(const char* name, const char* family, bool backward);
inline bool g_enabled = false;
inline void lap(const char* name, const char* family, bool backward = false) {
  if (g_enabled) lap_slow(name, family, backward);
}

// Start a new measurement: zero all buckets and restart the clock (the next lap counts from here).
void reset();
// Restart the clock without charging the time since the last lap to anything.
void restart_clock();

struct Bucket {
  std::string name;    // "matmul", "matmul backward", "adamw", ...
  std::string family;  // as given by the lap: "matmul (GEMM)", "optimizer", ...
  double seconds = 0;
  int64_t calls = 0;
};
// All non-empty buckets, largest first.
std::vector<Bucket> buckets();

}  // namespace tg::profile
