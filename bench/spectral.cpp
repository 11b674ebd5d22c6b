// spectral.cpp — time per task of the spectral baseline (gmm::spectral_fit).
//
//   build/bin/bench_spectral [--tasks 128] [--k 5] [--d 8] [--n 128] [--reps 11] [--threads T]
//
// Draws --tasks tasks from the paper's prior (gmm::sample_tasks, f64) and fits each one with
// spectral_fit (10 restarts x 30 iterations, the defaults), one task after another on one thread.
// Reports the median over tasks of the per-task time (each task's time is the median of --reps
// runs, after one warm-up pass), the mean time per task, the process CPU time per fit (robust
// to a loaded machine, where wall times include waits for a core), and the failure count. With
// --threads T > 1 it also times the whole set fitted as the evaluation harness does it (an OpenMP
// loop over tasks) and reports that wall time divided by the task count. --help lists the flags
// with their types and defaults; a bad flag or value is one line on stderr and exit code 2.
#include <omp.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <numeric>
#include <string>
#include <vector>

#include "gmm/mixture/spectral.h"
#include "gmm/mixture/tasks.h"
#include "tools/lib/cli.h"

#include "timing.h"  // bench/timing.h

using namespace tg;

namespace {

struct Options {
  int64_t tasks = 128, k = 5, d = 8, n = 128, reps = 11, threads = 1;
};

void add_options(CLI::App& app, Options& o) {
  namespace cli = tools::cli;
  cli::configure(app);
  const CLI::Validator positive = cli::at_least(0, true, "POSITIVE");
  cli::add_number(app, "--tasks", o.tasks, "tasks to fit")->check(positive);
  cli::add_number(app, "--k", o.k, "components K of every task")->check(positive);
  cli::add_number(app, "--d", o.d, "dimension of the points")->check(positive);
  cli::add_number(app, "--n", o.n, "points per task")->check(positive);
  cli::add_number(app, "--reps", o.reps, "timed fits per task, after one warm-up (median)")
      ->check(positive);
  cli::add_number(app, "--threads", o.threads,
                  "above 1: also time the whole set as an OpenMP loop over tasks")
      ->check(positive);
}

using bench::median;
using bench::seconds_since;

// The points of --tasks tasks from the paper's prior (f64), each (N, d) and contiguous.
std::vector<Tensor> draw_task_points(const Options& o) {
  gmm::TaskConfig config;
  config.d = o.d;
  config.ks = {o.k};
  config.tasks_per_k = o.tasks;
  config.n = o.n;
  config.dtype = DType::F64;
  Generator gen(42);
  const gmm::TaskBatch batch = gmm::sample_tasks(config, gen);
  std::vector<Tensor> points(o.tasks);  // (N, d) each
  for (int64_t b = 0; b < o.tasks; ++b) points[b] = gmm::task_points(batch, b).contiguous();
  return points;
}

// One task after another on this thread: the median of --reps fits for each task, then the
// median and mean over tasks, the CPU time per fit and the failures; prints two lines.
void time_sequential(const Options& o, const std::vector<Tensor>& points) {
  int failures = 0;
  std::vector<double> per_task(o.tasks);
  const std::clock_t cpu_start = std::clock();
  for (int64_t b = 0; b < o.tasks; ++b) {
    Generator warm(b);
    failures += gmm::spectral_fit(points[b], o.k, warm).ok ? 0 : 1;
    std::vector<double> times(o.reps);
    for (int64_t r = 0; r < o.reps; ++r) {
      Generator task_gen(b);
      const auto start = std::chrono::steady_clock::now();
      const gmm::SpectralFit fit = gmm::spectral_fit(points[b], o.k, task_gen);
      times[r] = seconds_since(start);
      if (fit.weights.defined() && fit.weights.numel() != o.k) std::abort();  // keep the result
    }
    per_task[b] = median(times);
  }
  const double cpu_per_fit = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC /
                             static_cast<double>(o.tasks * (o.reps + 1));
  const double mean_time = std::accumulate(per_task.begin(), per_task.end(), 0.0) / o.tasks;
  std::printf("spectral_fit  K=%lld d=%lld N=%lld  %lld tasks, 1 thread\n",
              static_cast<long long>(o.k), static_cast<long long>(o.d), static_cast<long long>(o.n),
              static_cast<long long>(o.tasks));
  std::printf("  per task: median %.4f ms, mean %.4f ms (wall); %.4f ms CPU; failures %d/%lld\n",
              1e3 * median(per_task), 1e3 * mean_time, 1e3 * cpu_per_fit, failures,
              static_cast<long long>(o.tasks));
}

// The evaluation harness's way: an OpenMP loop over tasks on --threads threads; prints one line.
void time_openmp(const Options& o, const std::vector<Tensor>& points) {
  std::vector<double> walls(o.reps);
  for (int64_t r = 0; r < o.reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(dynamic) num_threads(static_cast <int>(o.threads))
    for (int64_t b = 0; b < o.tasks; ++b) {
      Generator task_gen(b);
      gmm::spectral_fit(points[b], o.k, task_gen);
    }
    walls[r] = seconds_since(start);
  }
  std::printf(
      "  %lld threads, OpenMP over tasks: %.4f ms per task (wall / tasks, median of %lld)\n",
      static_cast<long long>(o.threads), 1e3 * median(walls) / o.tasks,
      static_cast<long long>(o.reps));
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"bench_spectral: time per task of the spectral baseline"};
  add_options(app, o);
  if (auto code = tools::cli::parse(app, argc, argv, "bench_spectral")) return *code;
  set_num_threads(1);
  const std::vector<Tensor> points = draw_task_points(o);
  time_sequential(o, points);
  if (o.threads > 1) time_openmp(o, points);
  return 0;
}
