// profiler.h — a lap profiler for training steps: where does a step's time go?
//
// Off by default (one branch per op). When enabled, the wall time between two consecutive
// laps is charged to the name given at the second lap, so every microsecond of a step lands
// in exactly one bucket and nothing is counted twice:
//   * autograd's make_op laps "<op>" when an op is recorded — the time since the previous lap
//     is that op's forward (its kernels plus the glue around them);
//   * the engine laps "<op> backward" after each node's rule and gradient accumulation;
//   * the trainer laps its own phases ("sample tasks", "loss matching", "adamw", ...).
// tools/bench prints the buckets per op and grouped into families (profile_family()).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tg::profile {

// Turn the profiler on or off (clears nothing). Not thread-safe: one training loop at a time.
void enable(bool on);
bool enabled();

// Charge the time since the previous lap to `name` (a string literal or otherwise long-lived),
// with `backward` selecting the "<name> backward" bucket. No-op when disabled.
void lap_slow(const char* name, bool backward);
inline bool g_enabled = false;
inline void lap(const char* name, bool backward = false) {
  if (g_enabled) lap_slow(name, backward);
}

// Start a new measurement: zero all buckets and restart the clock (the next lap counts from here).
void reset();
// Restart the clock without charging the time since the last lap to anything.
void restart_clock();

struct Bucket {
  std::string name;  // "matmul", "matmul backward", "adamw", ...
  double seconds = 0;
  int64_t calls = 0;
};
// All non-empty buckets, largest first.
std::vector<Bucket> buckets();

// The family an op bucket belongs to, for the summary: "matmul (GEMM)", "elementwise",
// "softmax", "layer norm", "gelu", "reductions", "select / gather / concat", "views and
// copies", "optimizer", "loss and matching", "data", "other".
std::string profile_family(const std::string& bucket_name);

}  // namespace tg::profile
