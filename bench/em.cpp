// em.cpp — benchmark of the baselines: batched EM and the spectral method, time per task.
//
//   build/bin/bench_em [--tasks 128] [--k 5] [--d 8] [--n 128] [--seed 0] [--reps 5]
//                      [--threads T] [--dump FILE]
//
// Draws --tasks tasks with K components in d dimensions and N points each (the paper's prior),
// and N(0, I) starting means with uniform weights for each (the paper's EM start). Then times,
// as the median of --reps runs after one warm-up, divided by the number of tasks, in wall time
// (*_ms_per_task) and in process CPU time over all threads (*_cpu_ms_per_task):
//   em_batched   em_run on the whole batch from those starts (paper variant, <= 100 iterations,
//                tolerance 1e-7 on the average log-likelihood per point)
//   em_per_task  the same, called once per task (what a per-task loop costs)
//   em_strong    em_fit with k-means++ and 10 restarts (per task, all restarts included)
//   spectral     the spectral estimator on the batch (parallel over tasks)
// and prints one JSON object. --dump FILE writes the tasks and the starts for
// bench/sklearn_em.py, which fits sklearn's GaussianMixture from the same starts and compares:
//   line 1: "B N d K" as text, then B*N*d f64 points, then B*K*d f64 starting means (raw,
//   little-endian, row-major).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "gmm/mixture/em.h"
#include "gmm/mixture/evaluate.h"

using namespace tg;
using namespace tg::gmm;

namespace {

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

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
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  auto median = [](std::vector<double>& v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  return {median(wall), median(cpu)};
}

int usage(const std::string& msg) {
  std::fprintf(stderr, "bench_em: %s (flags: --tasks --k --d --n --seed --reps --threads --dump)\n",
               msg.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t tasks = 128, k = 5, d = 8, n = 128, reps = 5, threads = 0;
  uint64_t seed = 0;
  std::string dump;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return usage("missing value for " + flag);
    const std::string value = argv[++i];
    try {
      if (flag == "--tasks")
        tasks = std::stoll(value);
      else if (flag == "--k")
        k = std::stoll(value);
      else if (flag == "--d")
        d = std::stoll(value);
      else if (flag == "--n")
        n = std::stoll(value);
      else if (flag == "--reps")
        reps = std::stoll(value);
      else if (flag == "--threads")
        threads = std::stoll(value);
      else if (flag == "--seed")
        seed = std::stoull(value);
      else if (flag == "--dump")
        dump = value;
      else
        return usage("unknown flag " + flag);
    } catch (const std::exception&) {
      return usage("bad value '" + value + "' for " + flag);
    }
  }
  if (threads > 0) set_num_threads(static_cast<int>(threads));

  TaskConfig config;
  config.d = d;
  config.ks = {k};
  config.tasks_per_k = tasks;
  config.n = n;
  config.dtype = DType::F64;
  Generator gen(seed);
  const TaskBatch batch = sample_tasks(config, gen);
  const Tensor w0 = full({tasks, k}, 1.0 / static_cast<double>(k), DType::F64);  // (B, K)
  const Tensor m0 = randn({tasks, k, d}, gen, DType::F64);                       // (B, K, d)
  const EmOptions paper = EmOptions::paper();

  EmResult result;
  const Timing batched = median_seconds(
      [&] { result = em_run(batch.x, batch.lengths, batch.ks, w0, m0, Tensor(), paper); }, reps);
  const Timing per_task = median_seconds(
      [&] {
        for (int64_t b = 0; b < tasks; ++b) {
          em_run(batch.x.narrow(0, b, 1), batch.lengths.narrow(0, b, 1), batch.ks.narrow(0, b, 1),
                 w0.narrow(0, b, 1), m0.narrow(0, b, 1), Tensor(), paper);
        }
      },
      reps);
  const Timing strong = median_seconds(
      [&] {
        Generator g(seed + 1);
        em_fit(batch, EmOptions::strong(10), g);
      },
      reps);
  const Estimator spectral = spectral_estimator();
  int64_t spectral_failures = 0;
  const Timing spectral_time = median_seconds(
      [&] {
        Generator g(seed + 2);
        spectral_failures = 0;
        for (const auto& e : spectral.fit(batch, g)) spectral_failures += e.ok ? 0 : 1;
      },
      reps);

  const double B = static_cast<double>(tasks);
  std::printf("{\"tasks\": %lld, \"k\": %lld, \"d\": %lld, \"n\": %lld, \"threads\": %d",
              static_cast<long long>(tasks), static_cast<long long>(k), static_cast<long long>(d),
              static_cast<long long>(n), num_threads());
  for (const auto& [name, t] :
       {std::pair{"em_batched", batched}, std::pair{"em_per_task_loop", per_task},
        std::pair{"em_strong10", strong}, std::pair{"spectral", spectral_time}}) {
    std::printf(", \"%s_ms_per_task\": %.5f, \"%s_cpu_ms_per_task\": %.5f", name, 1e3 * t.wall / B,
                name, 1e3 * t.cpu / B);
  }
  std::printf(
      ", \"spectral_failures\": %lld, \"em_mean_iterations\": %.2f, \"em_converged\": %lld"
      ", \"em_mean_log_likelihood\": %.6f}\n",
      static_cast<long long>(spectral_failures), mean(result.iterations.to(DType::F64)).item(),
      static_cast<long long>(sum(result.converged.to(DType::F64)).item()),
      mean(result.log_likelihood).item());

  if (!dump.empty()) {
    std::ofstream out(dump, std::ios::binary);
    out << tasks << " " << n << " " << d << " " << k << "\n";
    out.write(static_cast<const char*>(batch.x.raw_data()), tasks * n * d * 8);
    out.write(static_cast<const char*>(m0.raw_data()), tasks * k * d * 8);
    if (!out) return usage("cannot write " + dump);
  }
  return 0;
}
