// timing.h — the clocks and the median that the benchmark programs share.
//
// Wall time says how long a user waits; CPU time (of the process, or of the calling thread) says
// how much work was done, and is the steadier of the two on a machine with other work on it.
#pragma once
#include <algorithm>
#include <chrono>
#include <ctime>
#include <vector>

namespace tg::bench {

// Seconds of wall time since `start`.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// CPU seconds used so far by every thread of the process.
inline double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// CPU seconds used so far by the calling thread.
inline double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// The median of `v` (for an even count, the upper of the middle two); v must not be empty.
inline double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

}  // namespace tg::bench
