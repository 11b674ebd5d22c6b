// attention.cpp — the fused CPU attention (tensor/cpu/attention.cpp) against the same computation
// composed of ordinary ops (tg::attention_reference: matmul, softmax, elementwise), forward and
// backward, at TGMM's shapes.
//
//   build/bin/bench_attention [--reps N]
//
// Single thread. Reports the median over --reps interleaved rounds of the CPU time of this
// thread (CLOCK_THREAD_CPUTIME_ID), which a busy machine disturbs far less than wall time, and
// GFLOP/s counting 4 B H T^2 S multiply-adds... i.e. 2 * 2 B H T^2 S FLOPs forward (scores and
// P V) and twice that backward, for the full T x T (causal masks are not discounted).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "tensor/ops.h"

using namespace tg;

namespace {

double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 11;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = std::atoi(argv[++i]);
  }
  set_num_threads(1);
  struct Case {
    const char* name;
    int64_t B, T, H, S;
  };
  const Case cases[] = {{"tiny   (B=64,  T=64,  H=4, S=16)", 64, 64, 4, 16},
                        {"small  (B=128, T=64,  H=4, S=32)", 128, 64, 4, 32},
                        {"paper  (B=256, T=128, H=4, S=32)", 256, 128, 4, 32}};
  std::printf("%-34s %-9s %12s %12s %8s\n", "shape (causal, padded)", "pass", "fused ms",
              "composed ms", "ratio");
  for (const Case& c : cases) {
    Generator gen(1);
    const Tensor qkv = randn({c.B, c.T, 3 * c.H * c.S}, gen);
    std::vector<double> valid(c.B * c.T, 1.0);
    for (int64_t b = 0; b < c.B; ++b) {
      for (int64_t t = c.T / 2 + b % (c.T / 2); t < c.T; ++t) valid[b * c.T + t] = 0;
    }
    const Tensor mask = from_vector(valid, {c.B, c.T});
    const Tensor g = randn({c.B, c.T, c.H * c.S}, gen);
    const double scale = 0.25;
    std::vector<double> ff, rf, fb, rb;
    for (int r = 0; r < reps + 1; ++r) {
      double t0 = thread_seconds();
      const AttentionResult a = attention(qkv, c.H, mask, true, scale);
      double t1 = thread_seconds();
      const Tensor da = attention_backward(g, qkv, a.probs, c.H, scale, true);
      double t2 = thread_seconds();
      const AttentionResult b = attention_reference(qkv, c.H, mask, true, scale);
      double t3 = thread_seconds();
      const Tensor db = attention_backward_reference(g, qkv, b.probs, c.H, scale);
      double t4 = thread_seconds();
      if (r == 0) continue;  // warm-up
      ff.push_back(t1 - t0);
      fb.push_back(t2 - t1);
      rf.push_back(t3 - t2);
      rb.push_back(t4 - t3);
    }
    std::printf("%-34s %-9s %12.3f %12.3f %8.2f\n", c.name, "forward", 1e3 * median(ff),
                1e3 * median(rf), median(rf) / median(ff));
    std::printf("%-34s %-9s %12.3f %12.3f %8.2f\n", c.name, "backward", 1e3 * median(fb),
                1e3 * median(rb), median(rb) / median(fb));
  }
  return 0;
}
