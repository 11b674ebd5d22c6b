// profiler.cpp — the lap profiler's buckets (see profiler.h).
#include "tensor/profiler.h"

#include <algorithm>
#include <chrono>
#include <map>
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

void lap_slow(const char* name, const char* family, bool backward) {
  const Clock::time_point now = Clock::now();
  Bucket& b = g_buckets[{name, backward}];
  if (b.calls == 0) {
    b.name = std::string(name) + (backward ? " backward" : "");
    b.family = family;
  }
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
    if (m.family.empty()) m.family = b.family;
    m.seconds += b.seconds;
    m.calls += b.calls;
  }
  std::vector<Bucket> out;
  for (auto& [_, b] : merged) out.push_back(std::move(b));
  std::sort(out.begin(), out.end(),
            [](const Bucket& a, const Bucket& b) { return a.seconds > b.seconds; });
  return out;
}

}  // namespace tg::profile
