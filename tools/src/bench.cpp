// bench.cpp — tools/bench train: how fast is one TGMM training step, and where does it go?
//
//   tools/bench train [any tools/train model flags] [--steps S] [--warmup-steps W] [--json]
//                     [--device cpu|cuda]
//
// Builds exactly the model tools/train would build from the same flags (tools/lib/train_flags.h),
// draws 4 batches up front (sampling is not part of the timed step), runs W untimed warm-up steps
// and then S timed steps of forward, loss, backward, clipping and AdamW, cycling the batches.
// Prints the median and spread of seconds per step, tokens per second (tokens = tasks x padded
// N), achieved GFLOP/s (matrix-multiply FLOPs of the step, counted as in bench/torch_tgmm.py),
// peak memory (the process's RSS, and the tensors' own peak from the caching allocator), and the
// share of time per op and per op family from the lap profiler (tensor/profiler.h), measured during
// the timed steps. --json prints one JSON object (keys below) instead. With --device cuda each
// timed step ends with a device synchronisation, and the profile shows host-side time only
// (kernels run asynchronously: an op's bucket holds its launches, the waits land elsewhere).
// `tools/bench kernels|block` run the kernel and GPT-2 block benchmarks (bench/kernels.cpp,
// bench/gpt2_block.cpp); this program only does `train`.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "gmm/mixture/tasks.h"
#include "gmm/tgmm/train_step.h"
#include "tensor/profiler.h"
#include "tensor/storage.h"
#include "tools/lib/train_flags.h"

using namespace tg;
using namespace tg::gmm;

namespace {

int fail_usage(const std::string& message) {
  std::fprintf(stderr, "bench: %s\n", message.c_str());
  return 2;
}

// Matrix-multiply FLOPs of one training step (forward x 3: the backward does two GEMMs per
// forward GEMM), for `tasks` tasks of padded length N. Per task, with E = Kmax + d:
//   read-in 2 N (d+128) D; per layer 24 N D^2 (qkv, projection, MLP) + 4 N^2 D (scores, A V);
//   readout 4 N D E (keys, values) + 4 N Kmax E (scores, pooling).
// The same formula is in bench/torch_tgmm.py.
double step_flops(const TgmmConfig& c, int64_t tasks, int64_t N) {
  const double D = c.embd, d = c.d, L = c.layers, E = c.k_max + c.d, n = N;
  const double forward = 2 * n * (d + 128) * D + L * (24 * n * D * D + 4 * n * n * D) +
                         4 * n * D * E + 4 * n * c.k_max * E;
  return 3 * forward * tasks;
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // Linux reports KiB
}

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tools/bench train — time TGMM training steps and profile them"};
  app.require_subcommand(1);
  CLI::App* train =
      app.add_subcommand("train", "time full training steps of the tools/train model");
  tools::TrainFlags flags(*train);
  int64_t warmup_steps = 3;
  bool json = false;
  train->add_option("--warmup-steps", warmup_steps, "untimed steps first (default 3)");
  train->add_flag("--json", json, "print one JSON object");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help() << "\n"
              << "train: " << train->help() << "\n--steps is the number of timed steps here "
              << "(default 10).\n"
              << tools::train_settings_help();
    return 0;
  } catch (const CLI::ParseError& e) {
    return fail_usage(e.what());
  }
  TrainOptions o;
  try {
    o = flags.resolve();
    if (!flags.given("steps")) o.steps = 10;
    if (warmup_steps < 0) throw std::invalid_argument("--warmup-steps: must be >= 0");
  } catch (const std::exception& e) {
    return fail_usage(e.what());
  }

  if (o.threads > 0) set_num_threads(o.threads);
  Generator init_gen(o.seed), data_gen(o.seed ^ 0x5eedULL);
  TgmmModel model(o.model, init_gen);
  if (o.device != Device::CPU) model.to(o.device);
  nn::AdamWOptions adam;
  adam.lr = 1e-4;  // small and constant: the timing must not depend on the schedule
  adam.weight_decay = o.wd;
  nn::AdamW optimizer(model.named_parameters(), adam);
  const TaskConfig tasks = o.task_config();  // exactly the trainer's batches
  std::vector<TaskBatch> batches;
  for (int i = 0; i < 4; ++i) batches.push_back(sample_tasks(tasks, data_gen));
  const int64_t n_tasks = batches[0].batch_size();

  using Clock = std::chrono::steady_clock;
  std::vector<double> times;
  for (int64_t s = 0; s < warmup_steps + o.steps; ++s) {
    const bool timed = s >= warmup_steps;
    if (timed && s == warmup_steps) {
      profile::reset();
      profile::enable(true);
    }
    const auto t0 = Clock::now();
    profile::restart_clock();
    const StepResult r = train_step(model, optimizer, batches[s % 4], o.loss, o.clip);
    if (o.device != Device::CPU) cuda_synchronize();  // AdamW's kernels are still queued
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (r.status != StepResult::Ok) {
      std::fprintf(stderr, "bench: the step diverged (loss %g)\n", r.loss);
      return 1;
    }
    if (timed) times.push_back(seconds);
  }
  profile::enable(false);

  const double median = quantile(times, 0.5);
  const double tokens = static_cast<double>(n_tasks) * o.n;
  const double gflops = step_flops(o.model, n_tasks, o.n) / median / 1e9;
  const auto buckets = profile::buckets();
  double profiled = 0;
  for (const auto& b : buckets) profiled += b.seconds;
  std::map<std::string, double> families;
  for (const auto& b : buckets) families[b.family] += b.seconds;
  std::vector<std::pair<std::string, double>> family_list(families.begin(), families.end());
  std::sort(family_list.begin(), family_list.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });

  nlohmann::json result = {
      {"framework", "tg"},
      {"threads", o.threads},
      {"device", device_name(o.device)},
      {"config",
       {{"d", o.model.d},
        {"ks", o.model.ks},
        {"embd", o.model.embd},
        {"layers", o.model.layers},
        {"heads", o.model.heads},
        {"n", o.n},
        {"batch", o.batch},
        {"backbone", o.model.backbone},
        {"weight_head", weight_head_name(o.model.weight_head)},
        {"loss", loss_kind_name(o.loss)}}},
      {"steps", o.steps},
      {"median_step_s", median},
      {"min_step_s", *std::min_element(times.begin(), times.end())},
      {"max_step_s", *std::max_element(times.begin(), times.end())},
      {"p25_step_s", quantile(times, 0.25)},
      {"p75_step_s", quantile(times, 0.75)},
      {"tokens_per_s", tokens / median},
      {"gflops", gflops},
      {"peak_rss_mib", peak_rss_mib()},
      {"peak_tensor_mib", cpu_allocator_stats().peak_bytes / 1048576.0},
      {"parameters", model.parameter_count()},
  };
  if (o.device != Device::CPU) {
    result["peak_gpu_mib"] = cuda_allocator_stats().peak_bytes / 1048576.0;
  }
  nlohmann::json fam = nlohmann::json::object();
  for (const auto& [name, s] : family_list) fam[name] = s / profiled;
  result["family_share"] = fam;
  if (json) {
    std::cout << result.dump() << "\n";
    return 0;
  }
  std::cout << std::fixed << std::setprecision(4);
  std::cout << "TGMM training step: " << model.parameter_count() << " parameters, " << n_tasks
            << " tasks x N=" << o.n << ", D=" << o.model.embd << ", L=" << o.model.layers
            << ", H=" << o.model.heads << ", " << o.model.backbone << ", " << loss_kind_name(o.loss)
            << " loss, " << o.threads << " thread(s)\n";
  std::cout << "  median " << median << " s/step  (p25 " << quantile(times, 0.25) << ", p75 "
            << quantile(times, 0.75) << ", min " << result["min_step_s"].get<double>() << ", max "
            << result["max_step_s"].get<double>() << "; " << o.steps << " steps)\n";
  std::cout << std::setprecision(1) << "  " << tokens / median << " tokens/s, " << gflops
            << " GFLOP/s (matmul FLOPs), peak RSS " << peak_rss_mib() << " MiB (tensors "
            << cpu_allocator_stats().peak_bytes / 1048576.0 << " MiB)\n\n";
  std::cout << "Time by op family (lap profiler, all timed steps):\n";
  for (const auto& [name, s] : family_list) {
    std::cout << "  " << std::left << std::setw(28) << name << std::right << std::setw(6)
              << 100.0 * s / profiled << " %  " << std::setw(9) << std::setprecision(2)
              << 1e3 * s / o.steps << " ms/step\n"
              << std::setprecision(1);
  }
  std::cout << "\nTop ops (forward, and backward rules):\n";
  for (size_t i = 0; i < std::min<size_t>(buckets.size(), 25); ++i) {
    const auto& b = buckets[i];
    std::cout << "  " << std::left << std::setw(28) << b.name << std::right << std::setw(6)
              << 100.0 * b.seconds / profiled << " %  " << std::setw(9) << std::setprecision(2)
              << 1e3 * b.seconds / o.steps << " ms/step " << std::setw(7) << b.calls / o.steps
              << " calls/step\n"
              << std::setprecision(1);
  }
  return 0;
}
