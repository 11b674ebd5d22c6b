// em.cpp — benchmark of the baselines: batched EM and the spectral method, time per task.
//
//   build/bin/bench_em [--tasks 128] [--k 5] [--d 8] [--n 128] [--seed 0] [--reps 5]
//                      [--threads T] [--dump FILE]
//
// Draws --tasks tasks with K components in d dimensions and N points each (the paper's prior),
// and N(0, I) starting means with uniform weights for each (the paper's EM start). Then times,
// as the median of --reps runs after one warm-up, divided by the number of tasks, in wall time
// (*_ms_per_task) and in process CPU time over all threads (*_cpu_ms_per_task):
//   em_batched        em_run on the whole batch from those starts (paper variant, <= 100
//                     iterations, tolerance 1e-7 on the average log-likelihood per point)
//   em_per_task_loop  the same, called once per task (what a per-task loop costs)
//   em_strong10       em_fit with k-means++ and 10 restarts (per task, all restarts included)
//   spectral          the spectral estimator on the batch (parallel over tasks)
// and prints one JSON object on one line. --threads (default 0: all cores) sets our OpenMP loops
// and OpenBLAS together. --dump FILE writes the tasks and the starts for bench/sklearn_em.py,
// which fits sklearn's GaussianMixture from the same starts and compares:
//   line 1: "B N d K" as text, then B*N*d f64 points, then B*K*d f64 starting means (raw,
//   little-endian, row-major).
// --help lists the flags with their types and defaults; a bad flag or value is one line on stderr
// and exit code 2, as is a --dump file that cannot be written.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "gmm/mixture/em.h"
#include "gmm/mixture/evaluate.h"
#include "tools/lib/cli.h"

#include "timing.h"  // bench/timing.h

using namespace tg;
using namespace tg::gmm;

namespace {

using bench::median;
using bench::process_cpu_seconds;
using bench::seconds_since;

struct Timing {
  double wall = 0, cpu = 0;  // seconds, medians over the repetitions
};

// Wall time and process CPU time (all threads) of f: one warm-up, then the median of reps runs.
// On a shared, loaded machine the CPU time is the steadier measure of the work done.
Timing median_seconds(const std::function<void()>& f, int64_t reps) {
  f();  // warm-up
  std::vector<double> wall, cpu;
  for (int64_t r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = process_cpu_seconds();
    f();
    cpu.push_back(process_cpu_seconds() - cpu_start);
    wall.push_back(seconds_since(start));
  }
  return {median(wall), median(cpu)};
}

struct Options {
  int64_t tasks = 128, k = 5, d = 8, n = 128, reps = 5;
  int threads = 0;  // 0: all cores
  uint64_t seed = 0;
  std::string dump;  // empty: no dump
};

void add_options(CLI::App& app, Options& o) {
  namespace cli = tools::cli;
  cli::configure(app);
  const CLI::Validator positive = cli::at_least(0, true, "POSITIVE");
  cli::add_number(app, "--tasks", o.tasks, "tasks in the batch")->check(positive);
  cli::add_number(app, "--k", o.k, "components K of every task")->check(positive);
  cli::add_number(app, "--d", o.d, "dimension of the points")->check(positive);
  cli::add_number(app, "--n", o.n, "points per task")->check(positive);
  cli::add_number(app, "--seed", o.seed, "random seed of the tasks and the starting means");
  cli::add_number(app, "--reps", o.reps, "timed runs per method, after one warm-up (median)")
      ->check(positive);
  cli::add_number(app, "--threads", o.threads, "threads (0: all cores)")
      ->check(cli::at_least(0, false, "NONNEGATIVE"));
  cli::add_text(app, "--dump", o.dump, "FILE",
                "write the tasks and starting means here (for bench/sklearn_em.py)");
}

// The tasks and the paper's EM start: uniform weights, N(0, I) means.
struct Problem {
  TaskBatch batch;
  Tensor w0;  // (B, K) starting weights
  Tensor m0;  // (B, K, d) starting means
};

Problem draw_problem(const Options& o) {
  TaskConfig config;
  config.d = o.d;
  config.ks = {o.k};
  config.tasks_per_k = o.tasks;
  config.n = o.n;
  config.dtype = DType::F64;
  Generator gen(o.seed);
  Problem p;
  p.batch = sample_tasks(config, gen);
  p.w0 = full({o.tasks, o.k}, 1.0 / static_cast<double>(o.k), DType::F64);
  p.m0 = randn({o.tasks, o.k, o.d}, gen, DType::F64);
  return p;
}

// The timings of the four methods, and what the runs returned.
struct Measurements {
  Timing em_batched, em_per_task_loop, em_strong10, spectral;
  EmResult em;                    // em_run's result on the whole batch
  int64_t spectral_failures = 0;  // tasks the spectral method could not fit
};

Measurements measure(const Options& o, const Problem& p) {
  const TaskBatch& batch = p.batch;
  const EmOptions paper = EmOptions::paper();
  Measurements m;
  m.em_batched = median_seconds(
      [&] { m.em = em_run(batch.x, batch.lengths, batch.ks, p.w0, p.m0, Tensor(), paper); },
      o.reps);
  m.em_per_task_loop = median_seconds(
      [&] {
        for (int64_t b = 0; b < o.tasks; ++b) {
          em_run(batch.x.narrow(0, b, 1), batch.lengths.narrow(0, b, 1), batch.ks.narrow(0, b, 1),
                 p.w0.narrow(0, b, 1), p.m0.narrow(0, b, 1), Tensor(), paper);
        }
      },
      o.reps);
  m.em_strong10 = median_seconds(
      [&] {
        Generator g(o.seed + 1);
        em_fit(batch, EmOptions::strong(10), g);
      },
      o.reps);
  const Estimator spectral = spectral_estimator();
  m.spectral = median_seconds(
      [&] {
        Generator g(o.seed + 2);
        m.spectral_failures = 0;
        for (const auto& e : spectral.fit(batch, g)) m.spectral_failures += e.ok ? 0 : 1;
      },
      o.reps);
  return m;
}

// One JSON object on one line: the settings, the times per task, then EM's outcome.
void print_json(const Options& o, const Measurements& m) {
  const double B = static_cast<double>(o.tasks);
  std::printf("{\"tasks\": %lld, \"k\": %lld, \"d\": %lld, \"n\": %lld, \"threads\": %d",
              static_cast<long long>(o.tasks), static_cast<long long>(o.k),
              static_cast<long long>(o.d), static_cast<long long>(o.n), num_threads());
  for (const auto& [name, t] :
       {std::pair{"em_batched", m.em_batched}, std::pair{"em_per_task_loop", m.em_per_task_loop},
        std::pair{"em_strong10", m.em_strong10}, std::pair{"spectral", m.spectral}}) {
    std::printf(", \"%s_ms_per_task\": %.5f, \"%s_cpu_ms_per_task\": %.5f", name, 1e3 * t.wall / B,
                name, 1e3 * t.cpu / B);
  }
  std::printf(
      ", \"spectral_failures\": %lld, \"em_mean_iterations\": %.2f, \"em_converged\": %lld"
      ", \"em_mean_log_likelihood\": %.6f}\n",
      static_cast<long long>(m.spectral_failures), mean(m.em.iterations.to(DType::F64)).item(),
      static_cast<long long>(sum(m.em.converged.to(DType::F64)).item()),
      mean(m.em.log_likelihood).item());
}

// The --dump file (format in the header comment); false when it cannot be written.
bool write_dump(const std::string& path, const Options& o, const Problem& p) {
  std::ofstream out(path, std::ios::binary);
  out << o.tasks << " " << o.n << " " << o.d << " " << o.k << "\n";
  out.write(static_cast<const char*>(p.batch.x.raw_data()), o.tasks * o.n * o.d * 8);
  out.write(static_cast<const char*>(p.m0.raw_data()), o.tasks * o.k * o.d * 8);
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"bench_em: batched EM and the spectral method, time per task"};
  add_options(app, o);
  if (auto code = tools::cli::parse(app, argc, argv, "bench_em")) return *code;
  if (o.threads > 0) set_num_threads(o.threads);
  const Problem problem = draw_problem(o);
  print_json(o, measure(o, problem));
  if (!o.dump.empty() && !write_dump(o.dump, o, problem)) {
    return tools::cli::usage_error("bench_em", "cannot write " + o.dump);
  }
  return 0;
}
