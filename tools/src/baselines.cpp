// baselines.cpp — tools/baselines: the evaluation harness on the baselines (EM and spectral).
//
//   tools/baselines [--d 2,8] [--ks 2,3,4,5] [--n 32,64,128] [--tasks 128] [--seed S]
//                   [--methods em-paper,em-strong,spectral] [--restarts R]
//                   [--shift none|perturb|aniso] [--perturbation S] [--threads T] [--json]
//
// For each d, every method runs on the same fresh tasks for each (K, N) (gmm/mixture/evaluate.h)
// and one table per d goes to stdout; with --json, stdout holds only the JSON array of records (the
// tables go to stderr).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "gmm/mixture/evaluate.h"
#include "tools/lib/cli.h"

using namespace tg;
using namespace tg::gmm;

namespace {

struct Options {
  std::vector<int64_t> ds = {2, 8}, ks = {2, 3, 4, 5}, ns = {32, 64, 128};
  std::vector<std::string> methods = {"em-paper", "em-strong", "spectral"};
  int64_t tasks = 128, restarts = 10;
  uint64_t seed = 0;
  std::string shift = "none";
  double perturbation = 0.0;
  int threads = 0;
  bool json = false;
};

void add_options(CLI::App& app, Options& o) {
  namespace cli = tools::cli;
  cli::configure(app);
  cli::add_int_list(app, "--d", o.ds, "dimensions", true);
  cli::add_int_list(app, "--ks", o.ks, "component counts", true);
  cli::add_int_list(app, "--n", o.ns, "points per task", true);
  cli::add_number(app, "--tasks", o.tasks, "tasks per (K, N)")->check(CLI::PositiveNumber);
  cli::add_number(app, "--seed", o.seed, "random seed");
  cli::add_name_list(app, "--methods", o.methods, builtin_estimator_names(), "method",
                     "em-paper, em-strong, em-paper-diag, em-diag, spectral");
  cli::add_number(app, "--restarts", o.restarts, "restarts of em-strong and em-diag")
      ->check(CLI::PositiveNumber);
  cli::add_text(app, "--shift", o.shift, "SHIFT", "task distribution: none, perturb, aniso")
      ->check(CLI::IsMember({"none", "perturb", "aniso"}));
  cli::add_number(app, "--perturbation", o.perturbation, "std of the mean perturbation")
      ->check(CLI::NonNegativeNumber);
  cli::add_number(app, "--threads", o.threads, "threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);
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

// Every method on the same tasks for one d; its table to `table`.
std::vector<EvalRecord> evaluate_d(const Options& o, const std::vector<Estimator>& methods,
                                   int64_t d, std::ostream& table) {
  EvalSettings s;
  s.d = d;
  s.ks = o.ks;
  s.ns = o.ns;
  s.tasks = o.tasks;
  s.seed = o.seed;
  s.shift = parse_shift(o.shift);
  s.perturbation_std = o.perturbation;
  const std::vector<EvalRecord> records = evaluate(methods, s);
  table << "\n== d = " << d << ", " << o.tasks << " tasks per (K, N), seed " << o.seed << ", shift "
        << o.shift << " ==\n";
  print_table(table, records);
  return records;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"baselines: EM and spectral on the paper's evaluation settings"};
  add_options(app, o);
  if (auto code = tools::cli::parse(app, argc, argv, "baselines")) return *code;
  try {
    if (o.threads > 0) set_num_threads(o.threads);
    const std::vector<Estimator> methods = estimators(o);
    std::ostream& table = o.json ? std::cerr : std::cout;
    std::vector<EvalRecord> all;
    for (int64_t d : o.ds) {
      const std::vector<EvalRecord> records = evaluate_d(o, methods, d, table);
      all.insert(all.end(), records.begin(), records.end());
    }
    if (o.json) std::cout << to_json(all).dump(1) << "\n";
    return 0;
  } catch (const std::exception& e) {
    return tools::cli::usage_error("baselines", e.what());
  }
}
