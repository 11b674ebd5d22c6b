// random.cpp — xoshiro256** (Blackman & Vigna) seeded by splitmix64; Box–Muller normals.
#include "tensor/random.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace tg {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

void Generator::seed_with(uint64_t seed) {
  uint64_t x = seed;
  for (auto& w : s_) w = splitmix64(x);
  has_spare_ = false;
  spare_ = 0.0;
}

uint64_t Generator::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Generator::uniform() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;  // 53 random bits
}

double Generator::uniform(double low, double high) { return low + (high - low) * uniform(); }

double Generator::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * M_PI * u2;
  spare_ = r * std::sin(theta);
  has_spare_ = true;
  return r * std::cos(theta);
}

int64_t Generator::randint(int64_t low, int64_t high) {
  if (high <= low) throw std::invalid_argument("randint: empty range");
  const uint64_t span = static_cast<uint64_t>(high - low);
  // Rejection sampling removes the modulo bias.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % span;
  uint64_t r = next_u64();
  while (r >= limit) r = next_u64();
  return low + static_cast<int64_t>(r % span);
}

std::array<uint64_t, 5> Generator::state() const {
  uint64_t spare_bits = 0;
  std::memcpy(&spare_bits, &spare_, sizeof spare_bits);
  // Word 4 is the cached second Box–Muller value, or all ones (a NaN bit pattern, which
  // Box–Muller never produces) when there is none.
  return {s_[0], s_[1], s_[2], s_[3], has_spare_ ? spare_bits : ~uint64_t{0}};
}

void Generator::set_state(const std::array<uint64_t, 5>& s) {
  for (int i = 0; i < 4; ++i) s_[i] = s[i];
  if (s[4] == ~uint64_t{0}) {
    has_spare_ = false;
    spare_ = 0.0;
  } else {
    has_spare_ = true;
    std::memcpy(&spare_, &s[4], sizeof spare_);
  }
}

}  // namespace tg
