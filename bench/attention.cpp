// attention.cpp — the fused CPU attention (tensor/cpu/attention.cpp) against the same computation
// composed of ordinary ops (tg::attention_reference: matmul, softmax, elementwise), forward and
// backward, at TGMM's shapes.
//
//   build/bin/bench_attention [--reps 11]
//
// Single thread. Reports the median over --reps interleaved rounds (after one warm-up round) of
// the CPU time of this thread (CLOCK_THREAD_CPUTIME_ID), which a busy machine disturbs far less
// than wall time, in a table of milliseconds per pass and the ratio composed / fused.
// (The work of a pass: 2 B H T^2 S multiply-adds forward (scores and P V), twice that backward,
// over the full T x T: causal masks are not discounted.)
// --help lists the flags with their types and defaults; a bad flag or value is one line on stderr
// and exit code 2.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tools/lib/cli.h"

#include "timing.h"  // bench/timing.h

using namespace tg;

namespace {

struct Options {
  int reps = 11;
};

void add_options(CLI::App& app, Options& o) {
  tools::cli::configure(app);
  tools::cli::add_number(app, "--reps", o.reps, "timed rounds, after one warm-up (median)")
      ->check(tools::cli::at_least(0, true, "POSITIVE"));
}

// One shape: batch B, tokens T, heads H, head size S.
struct Case {
  const char* name;
  int64_t B, T, H, S;
};

using bench::median;
using bench::thread_cpu_seconds;

// (B, T): sequence b keeps its first T/2 + b mod T/2 tokens, then padding.
Tensor tail_padding_mask(int64_t B, int64_t T) {
  std::vector<double> valid(B * T, 1.0);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = T / 2 + b % (T / 2); t < T; ++t) valid[b * T + t] = 0;
  }
  return from_vector(valid, {B, T});
}

// Times the four passes of one shape in interleaved rounds and prints its two table lines.
void time_case(const Case& c, int reps) {
  Generator gen(1);
  const Tensor qkv = randn({c.B, c.T, 3 * c.H * c.S}, gen);  // (B, T, 3 H S)
  const Tensor mask = tail_padding_mask(c.B, c.T);           // (B, T)
  const Tensor g = randn({c.B, c.T, c.H * c.S}, gen);        // (B, T, H S) upstream gradient
  const double scale = 0.25;
  std::vector<double> ff, rf, fb, rb;  // fused / reference (composed), forward / backward
  for (int r = 0; r < reps + 1; ++r) {
    double t0 = thread_cpu_seconds();
    const AttentionResult a = attention(qkv, c.H, mask, true, scale);
    double t1 = thread_cpu_seconds();
    const Tensor da = attention_backward(g, qkv, a.probs, c.H, scale, true);
    double t2 = thread_cpu_seconds();
    const AttentionResult b = attention_reference(qkv, c.H, mask, true, scale);
    double t3 = thread_cpu_seconds();
    const Tensor db = attention_backward_reference(g, qkv, b.probs, c.H, scale);
    double t4 = thread_cpu_seconds();
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

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"bench_attention: fused CPU attention against the same computation composed"};
  add_options(app, o);
  if (auto code = tools::cli::parse(app, argc, argv, "bench_attention")) return *code;
  set_num_threads(1);
  const Case cases[] = {{"tiny   (B=64,  T=64,  H=4, S=16)", 64, 64, 4, 16},
                        {"small  (B=128, T=64,  H=4, S=32)", 128, 64, 4, 32},
                        {"paper  (B=256, T=128, H=4, S=32)", 256, 128, 4, 32}};
  std::printf("%-34s %-9s %12s %12s %8s\n", "shape (causal, padded)", "pass", "fused ms",
              "composed ms", "ratio");
  for (const Case& c : cases) time_case(c, o.reps);
  return 0;
}
