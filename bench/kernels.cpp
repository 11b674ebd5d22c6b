// kernels.cpp — benchmark of the CPU kernels against raw references in the same process.
//
//   build/bin/bench_kernels [--threads N] [--reps N] [--json]
//
// (a) tg::matmul vs a raw cblas_sgemm on the same preallocated buffers (GFLOP/s, ratio
//     ours/raw: 1.0 = parity), for transformer-like shapes with B*T = 4096 rows and C = 128,
//     operands that are transposed views, and batched attention-sized matrices, where the raw
//     reference is the faster of a sequential loop of gemms and an OpenMP loop over the batch;
// (b) per-call overhead of a tiny tg::add (16 elements, ns per call) and the bandwidth of a
//     1M-element add (GB/s, counting two reads and one write);
// (c) softmax and layer norm throughput at (256*64, 128) (GB/s, counting one read of x and one
//     write of y; the layer norm backward counts reads of g, x and a write of dx).
// Each figure is the median of --reps timed runs (default 21) after 3 warm-up runs. Threads:
// --threads N (default 0: all cores) sets our OpenMP loops and OpenBLAS together. --json prints
// one JSON object ({"threads", "results": [{"section", "case", "unit", "ours", and where there is
// a reference "raw", "ratio"}]}) instead of the table. --help lists the flags with their types and
// defaults; a bad flag or value is one line on stderr and exit code 2.
#include <cblas.h>
#include <omp.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tools/lib/cli.h"

using namespace tg;

namespace {

struct Options {
  int threads = 0;  // 0: all cores
  int reps = 21;
  bool json = false;
};

// One line of the report: our figure and, where there is one, the raw reference's.
struct Result {
  std::string section, name, unit;
  double ours = 0.0;
  double raw = NAN;  // NAN: no reference
};

// Median seconds per call of each function: 3 warm-up calls each, then `reps` rounds that time
// `inner` calls of every function in turn, starting each round with the next function.
// Interleaving (and rotating who goes first) makes ours and the reference see the same machine
// state, which matters on a loaded machine: going first after another kernel measurably differs.
std::vector<double> median_seconds(const std::vector<std::function<void()>>& fns, int reps,
                                   int inner = 1) {
  for (const auto& f : fns) {
    for (int i = 0; i < 3; ++i) f();
  }
  std::vector<std::vector<double>> times(fns.size());
  for (int r = 0; r < reps; ++r) {
    for (size_t j = 0; j < fns.size(); ++j) {
      const size_t k = (j + r) % fns.size();
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < inner; ++i) fns[k]();
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      times[k].push_back(took.count() / inner);
    }
  }
  std::vector<double> medians;
  for (std::vector<double>& t : times) {
    std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
    medians.push_back(t[t.size() / 2]);
  }
  return medians;
}
double median_seconds(const std::function<void()>& f, int reps, int inner = 1) {
  return median_seconds(std::vector<std::function<void()>>{f}, reps, inner)[0];
}

std::string dims(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += 'x';
    out += std::to_string(s[i]);
  }
  return out + ")";
}

// ---------------------------------------------------------------- (a) matmul

// A raw sgemm reading the operands exactly as tg::matmul is given them: a (M, K) stored
// row-major, or transposed when a_t (stored (K, M)); likewise b.
void raw_sgemm(const float* a, bool a_t, const float* b, bool b_t, float* c, int M, int N, int K) {
  cblas_sgemm(CblasRowMajor, a_t ? CblasTrans : CblasNoTrans, b_t ? CblasTrans : CblasNoTrans, M, N,
              K, 1.0f, a, a_t ? M : K, b, b_t ? K : N, 0.0f, c, N);
}

// (M, K) @ (K, N); a_t / b_t: the operand is a transposed view of a contiguous tensor.
Result bench_matmul(const Options& opt, Generator& gen, int64_t M, int64_t K, int64_t N, bool a_t,
                    bool b_t) {
  const Tensor a_store = randn(a_t ? Shape{K, M} : Shape{M, K}, gen);
  const Tensor b_store = randn(b_t ? Shape{N, K} : Shape{K, N}, gen);
  const Tensor a = a_t ? a_store.transpose(0, 1) : a_store;  // (M, K)
  const Tensor b = b_t ? b_store.transpose(0, 1) : b_store;  // (K, N)
  Tensor c = empty({M, N});
  const double flops = 2.0 * M * N * K;
  const std::vector<double> t = median_seconds(
      {[&] { (void)matmul(a, b); },
       [&] {
         raw_sgemm(a_store.data<float>(), a_t, b_store.data<float>(), b_t, c.data<float>(),
                   static_cast<int>(M), static_cast<int>(N), static_cast<int>(K));
       }},
      opt.reps);
  const std::string name =
      dims({M, K}) + (a_t ? "^T" : "") + "@" + dims({K, N}) + (b_t ? "^T" : "");
  return {"matmul", name, "GFLOP/s", flops / t[0] * 1e-9, flops / t[1] * 1e-9};
}

// (B, M, K) @ (B, K, N) (b_t: b is a transposed view of (B, N, K)) vs the faster of two raw
// loops over the batch: sequential (BLAS threads each gemm) and OpenMP-parallel (BLAS
// single-threaded inside).
Result bench_batched(const Options& opt, Generator& gen, int64_t B, int64_t M, int64_t K, int64_t N,
                     bool b_t) {
  const Tensor a = randn({B, M, K}, gen);
  const Tensor b_store = randn(b_t ? Shape{B, N, K} : Shape{B, K, N}, gen);
  const Tensor b = b_t ? b_store.transpose(1, 2) : b_store;  // (B, K, N)
  Tensor c = empty({B, M, N});
  const float* pa = a.data<float>();
  const float* pb = b_store.data<float>();
  float* pc = c.data<float>();
  auto one = [&](int64_t i) {
    raw_sgemm(pa + i * M * K, false, pb + i * K * N, b_t, pc + i * M * N, static_cast<int>(M),
              static_cast<int>(N), static_cast<int>(K));
  };
  const double flops = 2.0 * B * M * N * K;
  const std::vector<double> t = median_seconds({[&] { (void)matmul(a, b); },
                                                [&] {  // sequential raw loop
                                                  for (int64_t i = 0; i < B; ++i) one(i);
                                                },
                                                [&] {  // parallel raw loop
#pragma omp parallel for schedule(static)
                                                  for (int64_t i = 0; i < B; ++i) one(i);
                                                }},
                                               opt.reps);
  const std::string name = dims({B, M, K}) + "@" + dims({B, K, N}) + (b_t ? "^T" : "");
  return {"matmul", name, "GFLOP/s", flops / t[0] * 1e-9, flops / std::min(t[1], t[2]) * 1e-9};
}

// ---------------------------------------------------------------- (b) elementwise overhead

std::vector<Result> bench_add(const Options& opt, Generator& gen) {
  const Tensor a16 = randn({16}, gen), b16 = randn({16}, gen);
  const double tiny = median_seconds([&] { (void)add(a16, b16); }, opt.reps, 10000);
  const int64_t n = int64_t{1} << 20;
  const Tensor a = randn({n}, gen), b = randn({n}, gen);
  const double big = median_seconds([&] { (void)add(a, b); }, opt.reps);
  return {{"add", "add (16) + (16)", "ns/call", tiny * 1e9},
          {"add", "add (1M) + (1M)", "GB/s", 3.0 * n * 4 / big * 1e-9}};
}

// ---------------------------------------------------------------- (c) softmax, layer norm

std::vector<Result> bench_nn(const Options& opt, Generator& gen) {
  const int64_t R = 256 * 64, C = 128;
  const Tensor x = randn({R, C}, gen);
  const Tensor w = randn({C}, gen), b = randn({C}, gen), g = randn({R, C}, gen);
  const double bytes = 2.0 * R * C * 4;  // read x, write y
  const double sm = median_seconds([&] { (void)softmax(x, -1); }, opt.reps);
  const double lsm = median_seconds([&] { (void)log_softmax(x, -1); }, opt.reps);
  const double ln = median_seconds([&] { (void)layer_norm(x, w, b); }, opt.reps);
  const LayerNormResult fwd = layer_norm(x, w, b);
  const double lnb =
      median_seconds([&] { (void)layer_norm_backward(g, x, w, fwd.mean, fwd.rstd); }, opt.reps);
  const std::string shape = dims({R, C});
  return {{"nn", "softmax " + shape, "GB/s", bytes / sm * 1e-9},
          {"nn", "log_softmax " + shape, "GB/s", bytes / lsm * 1e-9},
          {"nn", "layer_norm " + shape, "GB/s", bytes / ln * 1e-9},
          {"nn", "layer_norm_backward " + shape, "GB/s", 1.5 * bytes / lnb * 1e-9}};
}

// ---------------------------------------------------------------- report

void print_table(const std::vector<Result>& results, int threads) {
  std::printf("bench_kernels: %d threads, median of timed runs\n\n", threads);
  std::printf("%-8s %-34s %12s %12s %-8s %9s\n", "section", "case", "ours", "raw", "unit",
              "ours/raw");
  for (const Result& r : results) {
    if (std::isnan(r.raw)) {
      std::printf("%-8s %-34s %12.2f %12s %-8s %9s\n", r.section.c_str(), r.name.c_str(), r.ours,
                  "-", r.unit.c_str(), "-");
    } else {
      std::printf("%-8s %-34s %12.2f %12.2f %-8s %9.3f\n", r.section.c_str(), r.name.c_str(),
                  r.ours, r.raw, r.unit.c_str(), r.ours / r.raw);
    }
  }
}

void print_json(const std::vector<Result>& results, int threads) {
  std::printf("{\"threads\": %d, \"results\": [", threads);
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    std::printf("%s\n  {\"section\": \"%s\", \"case\": \"%s\", \"unit\": \"%s\", \"ours\": %.6g",
                i ? "," : "", r.section.c_str(), r.name.c_str(), r.unit.c_str(), r.ours);
    if (!std::isnan(r.raw)) std::printf(", \"raw\": %.6g, \"ratio\": %.4f", r.raw, r.ours / r.raw);
    std::printf("}");
  }
  std::printf("\n]}\n");
}

void add_options(CLI::App& app, Options& o) {
  namespace cli = tools::cli;
  cli::configure(app);
  cli::add_number(app, "--threads", o.threads,
                  "threads of our OpenMP loops and OpenBLAS (0: all cores)")
      ->check(cli::at_least(0, false, "NONNEGATIVE"));
  cli::add_number(app, "--reps", o.reps, "timed runs per figure, after 3 warm-up runs (median)")
      ->check(cli::at_least(0, true, "POSITIVE"));
  app.add_flag("--json", o.json, "print one JSON object instead of the table");
}

// Every case of sections (a) to (c), in the order of the report.
std::vector<Result> run_all(const Options& opt) {
  Generator gen(0);
  std::vector<Result> results;
  const int64_t BT = 4096, C = 128;
  results.push_back(bench_matmul(opt, gen, BT, C, 3 * C, false, false));  // qkv = x @ W
  results.push_back(bench_matmul(opt, gen, BT, 4 * C, C, false, false));  // MLP down-projection
  results.push_back(bench_matmul(opt, gen, BT, 3 * C, C, false, true));   // dx = dqkv @ W^T
  results.push_back(bench_matmul(opt, gen, C, BT, 3 * C, true, false));   // dW = x^T @ dqkv
  results.push_back(bench_batched(opt, gen, 256, 64, 32, 64, false));     // att @ v shape
  results.push_back(bench_batched(opt, gen, 256, 64, 32, 64, true));      // q @ k^T
  for (const Result& r : bench_add(opt, gen)) results.push_back(r);
  for (const Result& r : bench_nn(opt, gen)) results.push_back(r);
  return results;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{"bench_kernels: CPU kernels against raw references in the same process"};
  add_options(app, opt);
  if (auto code = tools::cli::parse(app, argc, argv, "bench_kernels")) return *code;
  const int threads = opt.threads ? opt.threads : omp_get_num_procs();
  set_num_threads(threads);
  const std::vector<Result> results = run_all(opt);
  if (opt.json) {
    print_json(results, threads);
  } else {
    print_table(results, threads);
  }
  return 0;
}
