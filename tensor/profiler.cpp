// profiler.cpp — the lap profiler's buckets (see profiler.h).
#include "tensor/profiler.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <string_view>
#include <utility>

namespace tg::profile {

namespace {
using Clock = std::chrono::steady_clock;
Clock::time_point g_last = Clock::now();
// Keyed by (name pointer, backward): names are long-lived strings, so the pointer is the key and
// the map stays small (one entry per op kind); equal names at different addresses merge later.
std::map<std::pair<const char*, bool>, Bucket> g_buckets;
}  // namespace

void enable(bool on) {
  g_enabled = on;
  g_last = Clock::now();
}
bool enabled() { return g_enabled; }

void lap_slow(const char* name, bool backward) {
  const Clock::time_point now = Clock::now();
  Bucket& b = g_buckets[{name, backward}];
  if (b.calls == 0) b.name = std::string(name) + (backward ? " backward" : "");
  b.seconds += std::chrono::duration<double>(now - g_last).count();
  ++b.calls;
  g_last = Clock::now();  // the map update itself is charged to nobody
}

void reset() {
  g_buckets.clear();
  g_last = Clock::now();
}

void restart_clock() { g_last = Clock::now(); }

std::vector<Bucket> buckets() {
  std::map<std::string, Bucket> merged;
  for (const auto& [key, b] : g_buckets) {
    Bucket& m = merged[b.name];
    m.name = b.name;
    m.seconds += b.seconds;
    m.calls += b.calls;
  }
  std::vector<Bucket> out;
  for (auto& [_, b] : merged) out.push_back(std::move(b));
  std::sort(out.begin(), out.end(),
            [](const Bucket& a, const Bucket& b) { return a.seconds > b.seconds; });
  return out;
}

std::string profile_family(const std::string& bucket_name) {
  std::string_view op = bucket_name;
  if (op.ends_with(" backward")) op.remove_suffix(9);
  auto in = [&](std::initializer_list<std::string_view> names) {
    return std::find(names.begin(), names.end(), op) != names.end();
  };
  if (in({"matmul", "linear", "addmm"})) return "matmul (GEMM)";
  if (in({"softmax", "log_softmax", "attention"})) return "softmax / attention";
  if (in({"layer_norm"})) return "layer norm";
  if (in({"gelu"})) return "gelu";
  if (in({"sum", "mean", "max", "logsumexp"})) return "reductions";
  if (in({"where", "masked_fill", "concat", "stack", "gather", "index_select", "embedding"}))
    return "select / gather / concat";
  if (in({"reshape", "permute", "transpose", "narrow", "select", "expand", "squeeze", "unsqueeze",
          "contiguous", "split_heads", "merge_heads"}))
    return "views and copies";
  if (in({"neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "square", "pow_scalar",
          "affine", "clamp", "add", "sub", "mul", "div", "maximum", "minimum"}))
    return "elementwise";
  if (in({"adamw", "zero grad", "clip grad norm"})) return "optimizer";
  if (in({"loss matching", "loss value", "backward setup"})) return "loss and engine";
  if (in({"sample tasks"})) return "data";
  return "other";
}

}  // namespace tg::profile
