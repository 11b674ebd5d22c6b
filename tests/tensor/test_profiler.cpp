// test_profiler.cpp — the lap profiler charges each interval to exactly one bucket, under the
// family its lap names.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "tensor/profiler.h"

using namespace tg;

namespace {
void busy_for(double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
  }
}
}  // namespace

TEST_CASE("profiler: laps go to the named bucket, backward separately, nothing when disabled") {
  profile::reset();
  profile::lap("matmul", "gemm");  // disabled: ignored
  CHECK(profile::buckets().empty());

  profile::enable(true);
  profile::restart_clock();
  busy_for(0.004);
  profile::lap("matmul", "gemm");
  busy_for(0.002);
  profile::lap("matmul", "gemm", /*backward=*/true);
  busy_for(0.001);
  profile::lap("matmul", "gemm");
  profile::enable(false);

  const auto b = profile::buckets();
  REQUIRE(b.size() == 2);
  CHECK(b[0].name == "matmul");  // largest first: 4 ms + 1 ms
  CHECK(b[0].calls == 2);
  CHECK(b[0].seconds >= 0.005);
  CHECK(b[1].name == "matmul backward");
  CHECK(b[1].calls == 1);
  CHECK(b[1].seconds >= 0.002);
  CHECK(b[1].seconds < b[0].seconds);

  profile::reset();
  CHECK(profile::buckets().empty());
}

TEST_CASE("profiler: each bucket has the family its laps named") {
  profile::reset();
  profile::enable(true);
  profile::lap("adamw", "optimizer");
  profile::lap("add", "elementwise", /*backward=*/true);
  profile::lap("adamw", "optimizer");
  profile::enable(false);
  const auto b = profile::buckets();
  REQUIRE(b.size() == 2);
  for (const auto& bucket : b) {
    CHECK(bucket.family == (bucket.name == "adamw" ? "optimizer" : "elementwise"));
  }
  CHECK((b[0].name == "add backward" || b[1].name == "add backward"));
  profile::reset();
}
