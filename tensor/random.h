// random.h — the one seeded generator type used everywhere.
//
// xoshiro256** seeded through splitmix64: fast, small state, and the same seed gives the same
// stream on every machine. normal() uses Box–Muller (both values used). The state can be saved and
// restored exactly (checkpoints resume bit-identically).
#pragma once
#include <array>
#include <cstdint>

namespace tg {

class Generator {
 public:
  explicit Generator(uint64_t seed = 42) { seed_with(seed); }
  void seed_with(uint64_t seed);
  uint64_t next_u64();
  double uniform();                            // [0, 1)
  double uniform(double low, double high);     // [low, high)
  double normal();                             // N(0, 1)
  int64_t randint(int64_t low, int64_t high);  // uniform on {low, ..., high - 1}

  // Exact state, for checkpoints.
  std::array<uint64_t, 5> state() const;
  void set_state(const std::array<uint64_t, 5>& s);

 private:
  std::array<uint64_t, 4> s_{};
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace tg
