// baselines.cpp — tools/baselines: the evaluation harness on the baselines (EM and spectral).
//
//   tools/baselines [--d 2,8] [--ks 2,3,4,5] [--n 32,64,128] [--tasks 128] [--seed S]
//                   [--methods em-paper,em-strong,spectral] [--restarts R]
//                   [--shift none|perturb|aniso|phase] [--perturbation S] [--phase-a A]
//                   [--phase-b B] [--threads T] [--json]
//
// For each d, every method runs on the same fresh tasks for each (K, N) (gmm/mixture/evaluate.h)
// and one table per d goes to stdout; with --json, stdout holds only the JSON array of records (the
// tables go to stderr), each naming its shift (tools/lib/shift_flags.h).
// The phase transition (--shift phase) has K = 2 and d = floor(B N ln N) at each N: one table for
// all N, --ks defaults to 2 (any other K is refused), and --d is refused (d comes from --phase-b).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "gmm/mixture/evaluate.h"
#include "tools/lib/cli.h"
#include "tools/lib/shift_flags.h"

using namespace tg;
using namespace tg::gmm;

namespace {

struct Options {
  std::vector<int64_t> ds = {2, 8}, ks = {2, 3, 4, 5}, ns = {32, 64, 128};
  std::vector<std::string> methods = {"em-paper", "em-strong", "spectral"};
  int64_t tasks = 128, restarts = 10;
  uint64_t seed = 0;
  tools::ShiftFlags shift;
  int threads = 0;
  bool json = false;
};

constexpr double kDefaultPhaseB = 0.05;

void add_options(CLI::App& app, Options& o) {
  namespace cli = tools::cli;
  cli::configure(app);
  cli::add_int_list(app, "--d", o.ds, "dimensions (not with --shift phase)", true);
  cli::add_int_list(app, "--ks", o.ks, "component counts (--shift phase: 2)", true);
  cli::add_int_list(app, "--n", o.ns, "points per task", true);
  cli::add_number(app, "--tasks", o.tasks, "tasks per (K, N)")
      ->check(cli::at_least(0, true, "POSITIVE"));
  cli::add_number(app, "--seed", o.seed, "random seed");
  cli::add_name_list(app, "--methods", o.methods, builtin_estimator_names(), "method",
                     "em-paper, em-strong, em-paper-diag, em-diag, spectral");
  cli::add_number(app, "--restarts", o.restarts, "restarts of em-strong and em-diag")
      ->check(cli::at_least(0, true, "POSITIVE"));
  o.shift.phase_b = kDefaultPhaseB;
  o.shift.add_to(app, cli::format_double(kDefaultPhaseB));
  cli::add_number(app, "--threads", o.threads, "threads (0: all cores)")
      ->check(cli::at_least(0, false, "NONNEGATIVE"));
  app.add_flag("--json", o.json, "print the records as JSON on stdout");
}

std::vector<Estimator> estimators(const Options& o) {
  std::vector<Estimator> list;
  for (const auto& m : o.methods) {
    if (m == "em-strong")
      list.push_back(em_strong_estimator(o.restarts));
    else if (m == "em-diag")
      list.push_back(em_diagonal_estimator(o.restarts));
    else
      list.push_back(builtin_estimator(m));
  }
  return list;
}

// Every method on the same tasks for one d (the phase transition: d from N); its table to `table`.
std::vector<EvalRecord> evaluate_d(const Options& o, const std::vector<Estimator>& methods,
                                   int64_t d, std::ostream& table) {
  EvalSettings s;
  s.d = d;
  s.ks = o.ks;
  s.ns = o.ns;
  s.tasks = o.tasks;
  s.seed = o.seed;
  o.shift.apply(s);
  const std::vector<EvalRecord> records = evaluate(methods, s);
  const bool phase = o.shift.shift == Shift::PhaseTransition;
  table << "\n== " << (phase ? "d = floor(b N ln N)" : "d = " + std::to_string(d)) << ", "
        << o.tasks << " tasks per (K, N), seed " << o.seed << ", shift "
        << shift_name(o.shift.shift) << (phase ? ": " + o.shift.describe() : "") << " ==\n";
  print_table(table, records);
  return records;
}

// What is wrong with the flags together ("" when nothing); the phase transition fixes K and d.
std::string flags_problem(const CLI::App& app, Options& o) {
  if (std::string problem = o.shift.problem(app); !problem.empty()) return problem;
  if (o.shift.shift != Shift::PhaseTransition) return "";
  if (app.get_option("--d")->count() > 0) {
    return "--d does not apply to --shift phase: d = floor(b N ln N) at each N (set --phase-b)";
  }
  if (app.get_option("--ks")->count() == 0) o.ks = {2};
  if (o.ks != std::vector<int64_t>{2}) {
    return "--shift phase has K = 2, got --ks " + tools::cli::format_int_list(o.ks);
  }
  o.ds = {0};  // one pass; the harness derives d from N
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"baselines: EM and spectral on the paper's evaluation settings"};
  add_options(app, o);
  if (auto code = tools::cli::parse(app, argc, argv, "baselines")) return *code;
  if (const std::string problem = flags_problem(app, o); !problem.empty()) {
    return tools::cli::usage_error("baselines", problem);
  }
  try {
    if (o.threads > 0) set_num_threads(o.threads);
    const std::vector<Estimator> methods = estimators(o);
    std::ostream& table = o.json ? std::cerr : std::cout;
    std::vector<EvalRecord> all;
    for (int64_t d : o.ds) {
      const std::vector<EvalRecord> records = evaluate_d(o, methods, d, table);
      all.insert(all.end(), records.begin(), records.end());
    }
    if (o.json) std::cout << o.shift.records_json(all).dump(1) << "\n";
    return 0;
  } catch (const std::exception& e) {
    return tools::cli::usage_error("baselines", e.what());
  }
}
