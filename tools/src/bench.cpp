// bench.cpp — tools/bench train: how fast is one TGMM training step, and where does it go?
//
//   tools/bench train [any tools/train model flags] [--steps S] [--warmup-steps W] [--json]
//                     [--device cpu|cuda]
//
// Builds exactly the training run tools/train would build from the same flags
// (tools/lib/train_flags.h, gmm/tgmm/training_run.h), runs W untimed warm-up steps and then
// times S steps of TrainingRun::step — drawing the step's tasks, forward, loss, backward,
// clipping and AdamW at the scheduled learning rate (the schedule spans the W + S steps).
// Prints the median and spread of seconds per step, tokens per second (tokens = tasks x padded
// N), achieved GFLOP/s (matrix-multiply FLOPs of the step, counted as in bench/torch_tgmm.py),
// peak memory (the process's RSS, and the tensors' own peak from the caching allocator), and the
// share of time per op and per op family from the lap profiler (tensor/profiler.h), measured during
// the timed steps (drawing the tasks is the "sample tasks" bucket). --json prints one JSON object
// (keys below) instead. With --device cuda each timed step ends with a device synchronisation,
// and the profile shows host-side time only (kernels run asynchronously: an op's bucket holds its
// launches, the waits land elsewhere). `tools/bench kernels|block` run the kernel and GPT-2 block
// benchmarks (bench/kernels.cpp, bench/gpt2_block.cpp); this program only does `train`.
//
// As P processes (`mpirun -np P tools/bench train ...` or `tools/bench train --procs P`;
// docs/distributed.md) it first times the same global batch on rank 0 alone (the others wait
// asleep), then the step split over the P processes, and reports on rank 0: the median step time,
// the time in the collectives ("communication": the gradient allreduce and the loss's sum, waits
// for the slowest process included), one bare allreduce of the gradient buffer, and the speed-up
// and scaling efficiency (speed-up / P) against rank 0 alone. --json adds "processes",
// "alone_median_step_s", "communication_ms_per_step", "allreduce_ms", "gradient_mib", "speedup",
// "scaling_efficiency".
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "gmm/tgmm/training_run.h"
#include "nn/distributed.h"
#include "tensor/profiler.h"
#include "tensor/storage.h"
#include "tools/lib/cli.h"
#include "tools/lib/processes.h"
#include "tools/lib/train_flags.h"

using namespace tg;
using namespace tg::gmm;

namespace {

constexpr int64_t kTimedSteps = 10;  // --steps, unless given

struct BenchOptions {
  TrainOptions run;  // run.steps: the timed steps
  int64_t warmup_steps = 3;
  bool json = false;
};

struct Timing {
  std::vector<double> seconds;           // per timed step
  std::vector<profile::Bucket> buckets;  // the profile of the timed steps, largest first
  double profiled = 0;                   // their sum
  std::vector<std::pair<std::string, double>> families;  // seconds by op family, largest first
};

// Matrix-multiply FLOPs of one training step (forward x 3: the backward does two GEMMs per
// forward GEMM), for `tasks` tasks of padded length N. Per task, with E = Kmax + d (+ d more
// for a diagonal model's scales):
//   read-in 2 N (d+128) D; per layer 24 N D^2 (qkv, projection, MLP) + 4 N^2 D (scores, A V);
//   readout 4 N D E (keys, values) + 4 N Kmax E (scores, pooling).
// The same formula is in bench/torch_tgmm.py.
double step_flops(const TgmmConfig& c, int64_t tasks, int64_t N) {
  const double D = c.embd, d = c.d, L = c.layers, E = c.readout_width(), n = N;
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

// The command line; nullopt after printing help or a usage error (exit code in `exit_code`).
std::optional<BenchOptions> parse_options(int argc, char** argv, int& exit_code) {
  CLI::App app{"tools/bench train — time TGMM training steps and profile them"};
  app.require_subcommand(1);
  CLI::App* train =
      app.add_subcommand("train", "time full training steps of the tools/train model");
  tools::TrainFlags flags(*train);
  flags.option("steps")->description("timed steps")->default_str(std::to_string(kTimedSteps));
  BenchOptions b;
  tools::cli::add_number(*train, "--warmup-steps", b.warmup_steps, "untimed steps first")
      ->group("Benchmark");
  train->add_flag("--json", b.json, "print one JSON object")->group("Benchmark");
  if (auto code = tools::cli::parse(app, argc, argv, "bench")) {
    exit_code = *code;
    return std::nullopt;
  }
  nn::Communicator* comm = nullptr;
  try {
    b.run = flags.resolve();
    if (!flags.given("steps")) b.run.steps = kTimedSteps;
    if (b.warmup_steps < 0) throw std::invalid_argument("--warmup-steps: must be >= 0");
    comm = &nn::Communicator::world();
  } catch (const std::exception& e) {
    exit_code = tools::cli::usage_error("bench", e.what());
    return std::nullopt;
  }
  if (auto code = tools::check_processes(flags, b.run, *comm, "bench")) {
    exit_code = *code;
    return std::nullopt;
  }
  return b;
}

// Runs the warm-up steps, then the timed ones with the profiler on. Throws std::runtime_error
// when a step diverges.
Timing time_steps(TrainingRun& run, int64_t warmup_steps, int64_t timed_steps) {
  using Clock = std::chrono::steady_clock;
  Timing t;
  for (int64_t s = 0; s < warmup_steps + timed_steps; ++s) {
    const bool timed = s >= warmup_steps;
    if (timed && s == warmup_steps) {
      profile::reset();
      profile::enable(true);
    }
    const auto t0 = Clock::now();
    profile::restart_clock();
    const StepRecord r = run.step();
    if (run.options().device != Device::CPU) cuda_synchronize();  // AdamW's kernels are queued
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (r.status != StepResult::Ok) {
      std::ostringstream message;
      message << "the step diverged (loss " << r.loss << ")";
      throw std::runtime_error(message.str());
    }
    if (timed) t.seconds.push_back(seconds);
  }
  profile::enable(false);
  t.buckets = profile::buckets();
  std::map<std::string, double> families;
  for (const auto& b : t.buckets) {
    t.profiled += b.seconds;
    families[b.family] += b.seconds;
  }
  t.families.assign(families.begin(), families.end());
  std::sort(t.families.begin(), t.families.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  return t;
}

// Tasks in one step: `batch` for each K.
int64_t step_tasks(const TrainOptions& o) {
  return o.batch * static_cast<int64_t>(o.model.ks.size());
}

nlohmann::json summary_json(const TrainingRun& run, const BenchOptions& b, const Timing& t) {
  const TrainOptions& o = b.run;
  const int64_t n_tasks = step_tasks(o);
  const double median = quantile(t.seconds, 0.5);
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
      {"min_step_s", *std::min_element(t.seconds.begin(), t.seconds.end())},
      {"max_step_s", *std::max_element(t.seconds.begin(), t.seconds.end())},
      {"p25_step_s", quantile(t.seconds, 0.25)},
      {"p75_step_s", quantile(t.seconds, 0.75)},
      {"tokens_per_s", static_cast<double>(n_tasks) * o.n / median},
      {"gflops", step_flops(o.model, n_tasks, o.n) / median / 1e9},
      {"peak_rss_mib", peak_rss_mib()},
      {"peak_tensor_mib", cpu_allocator_stats().peak_bytes / 1048576.0},
      {"parameters", run.model().parameter_count()},
  };
  if (o.device != Device::CPU) {
    result["peak_gpu_mib"] = cuda_allocator_stats().peak_bytes / 1048576.0;
  }
  nlohmann::json shares = nlohmann::json::object();
  for (const auto& [name, s] : t.families) shares[name] = s / t.profiled;
  result["family_share"] = shares;
  return result;
}

// One row of the profile tables: name, share, ms per step.
void print_share(const std::string& name, double seconds, const Timing& t, int64_t steps) {
  std::cout << "  " << std::left << std::setw(28) << name << std::right << std::setw(6)
            << std::setprecision(1) << 100.0 * seconds / t.profiled << " %  " << std::setw(9)
            << std::setprecision(2) << 1e3 * seconds / steps << " ms/step";
}

void print_report(const TrainingRun& run, const nlohmann::json& j, const BenchOptions& b,
                  const Timing& t) {
  const TrainOptions& o = b.run;
  std::cout << std::fixed << std::setprecision(4);
  std::cout << "TGMM training step: " << run.model().parameter_count() << " parameters, "
            << step_tasks(o) << " tasks x N=" << o.n << ", D=" << o.model.embd
            << ", L=" << o.model.layers << ", H=" << o.model.heads << ", " << o.model.backbone
            << ", " << loss_kind_name(o.loss) << " loss, " << o.threads << " thread(s)\n";
  std::cout << "  median " << j["median_step_s"].get<double>() << " s/step  (p25 "
            << j["p25_step_s"].get<double>() << ", p75 " << j["p75_step_s"].get<double>()
            << ", min " << j["min_step_s"].get<double>() << ", max "
            << j["max_step_s"].get<double>() << "; " << o.steps << " steps)\n";
  std::cout << std::setprecision(1) << "  " << j["tokens_per_s"].get<double>() << " tokens/s, "
            << j["gflops"].get<double>() << " GFLOP/s (matmul FLOPs), peak RSS "
            << j["peak_rss_mib"].get<double>() << " MiB (tensors "
            << j["peak_tensor_mib"].get<double>() << " MiB)\n\n";
  std::cout << "Time by op family (lap profiler, all timed steps):\n";
  for (const auto& [name, s] : t.families) {
    print_share(name, s, t, o.steps);
    std::cout << "\n";
  }
  std::cout << "\nTop ops (forward, and backward rules):\n";
  for (size_t i = 0; i < std::min<size_t>(t.buckets.size(), 25); ++i) {
    const auto& bucket = t.buckets[i];
    print_share(bucket.name, bucket.seconds, t, o.steps);
    std::cout << " " << std::setw(7) << bucket.calls / o.steps << " calls/step\n";
  }
}

// The gradient buffer's elements (parameters and one flag each: nn/data_parallel.h) and the
// median of 10 bare allreduces of it, in seconds.
std::pair<int64_t, double> time_allreduce(const TrainingRun& run, const nn::Communicator& comm) {
  const auto params = run.model().named_parameters();
  const int64_t elements = run.model().parameter_count() + static_cast<int64_t>(params.size());
  const Tensor& first = params.front().second.value();
  Tensor buffer = zeros({elements}, first.dtype(), first.device());
  std::vector<double> seconds;
  for (int i = 0; i < 11; ++i) {
    comm.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    comm.allreduce_sum(buffer);
    if (buffer.device() != Device::CPU) cuda_synchronize();
    if (i > 0) {  // the first one sets up connections
      seconds.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  return {elements, quantile(seconds, 0.5)};
}

// The split step's numbers, added to rank 0's summary: `alone` is rank 0's median on its own.
void add_process_summary(nlohmann::json& j, const Timing& t, double alone,
                         std::pair<int64_t, double> allreduce, const TrainingRun& run) {
  const int p = run.communicator().size();
  double communication = 0;
  for (const auto& [family, seconds] : t.families) {
    if (family == "communication") communication = seconds;
  }
  const double median = j["median_step_s"].get<double>();
  const double bytes =
      static_cast<double>(allreduce.first) * dtype_size(run.model().config().dtype);
  j["processes"] = p;
  j["alone_median_step_s"] = alone;
  j["communication_ms_per_step"] = 1e3 * communication / static_cast<double>(t.seconds.size());
  j["allreduce_ms"] = 1e3 * allreduce.second;
  j["gradient_mib"] = bytes / 1048576.0;
  j["speedup"] = alone / median;
  j["scaling_efficiency"] = alone / median / p;
}

void print_process_summary(const nlohmann::json& j) {
  std::cout << std::setprecision(4) << "\nProcesses: " << j["processes"].get<int>()
            << ", each step's tasks split between them\n"
            << "  rank 0 alone, the same global batch: median "
            << j["alone_median_step_s"].get<double>() << " s/step\n"
            << "  split: median " << j["median_step_s"].get<double>() << " s/step, speed-up "
            << std::setprecision(2) << j["speedup"].get<double>() << ", scaling efficiency "
            << j["scaling_efficiency"].get<double>() << "\n"
            << "  communication " << j["communication_ms_per_step"].get<double>()
            << " ms/step (gradient allreduce and loss sum, waits included); one bare allreduce "
               "of the "
            << j["gradient_mib"].get<double>() << " MiB gradient buffer: " << std::setprecision(3)
            << j["allreduce_ms"].get<double>() << " ms\n";
}

// P processes: rank 0 alone first, then the split step; rank 0 reports. Returns the exit code.
int bench_processes(const BenchOptions& b, const TrainOptions& run_options,
                    nn::Communicator& comm) {
  double alone = 0;
  if (comm.is_root()) {
    TrainingRun single(run_options, nn::Communicator::single_process());
    alone = quantile(time_steps(single, b.warmup_steps, b.run.steps).seconds, 0.5);
  }
  comm.idle_barrier();  // the others sleep meanwhile, leaving rank 0 the cores
  TrainingRun run(run_options, comm);
  const Timing timing = time_steps(run, b.warmup_steps, b.run.steps);
  const auto allreduce = time_allreduce(run, comm);
  if (!comm.is_root()) return 0;
  nlohmann::json summary = summary_json(run, b, timing);
  add_process_summary(summary, timing, alone, allreduce, run);
  if (b.json) {
    std::cout << summary.dump() << "\n";
  } else {
    print_report(run, summary, b, timing);
    print_process_summary(summary);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  const std::optional<BenchOptions> b = parse_options(argc, argv, exit_code);
  if (!b) return exit_code;
  TrainOptions run_options = b->run;
  run_options.steps = b->warmup_steps + b->run.steps;  // the schedule spans every step run
  nn::Communicator& comm = nn::Communicator::world();
  try {
    if (comm.distributed()) return bench_processes(*b, run_options, comm);
    TrainingRun run(run_options);
    const Timing timing = time_steps(run, b->warmup_steps, b->run.steps);
    const nlohmann::json summary = summary_json(run, *b, timing);
    if (b->json) {
      std::cout << summary.dump() << "\n";
    } else {
      print_report(run, summary, *b, timing);
    }
  } catch (const std::exception& e) {
    if (!comm.distributed()) {
      std::cerr << "bench: " << e.what() << "\n";
      return 1;
    }
    std::cerr << "bench: rank " << comm.rank() << ": " << e.what() << "\n";
    comm.abort(1);  // the other processes may be waiting for this one
  }
  return 0;
}
