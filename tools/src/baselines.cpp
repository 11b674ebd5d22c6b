// baselines.cpp — tools/baselines: the evaluation harness on the baselines (EM and spectral).
//
//   tools/baselines [--d 2,8] [--ks 2,3,4,5] [--n 32,64,128] [--tasks 128] [--seed S]
//                   [--methods em-paper,em-strong,spectral] [--restarts R]
//                   [--shift none|perturb|aniso] [--perturbation S] [--threads T] [--json]
//
// For each d, every method runs on the same fresh tasks for each (K, N) (gmm/mixture/evaluate.h) and one
// table per d goes to stdout; with --json, stdout holds only the JSON array of records (the
// tables go to stderr).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "gmm/mixture/evaluate.h"

using namespace tg;
using namespace tg::gmm;

int main(int argc, char** argv) {
  std::vector<int64_t> ds = {2, 8}, ks = {2, 3, 4, 5}, ns = {32, 64, 128};
  std::vector<std::string> methods = {"em-paper", "em-strong", "spectral"};
  int64_t tasks = 128, restarts = 10;
  uint64_t seed = 0;
  std::string shift = "none";
  double perturbation = 0.0;
  int threads = 0;
  bool json = false;

  CLI::App app{"baselines: EM and spectral on the paper's evaluation settings"};
  app.add_option("--d", ds, "dimensions (2,8)")->delimiter(',')->check(CLI::PositiveNumber);
  app.add_option("--ks", ks, "component counts (2,3,4,5)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  app.add_option("--n", ns, "points per task (32,64,128)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  app.add_option("--tasks", tasks, "tasks per (K, N) (128)")->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "random seed (0)");
  app.add_option("--methods", methods, "em-paper, em-strong, em-diag, spectral")
      ->delimiter(',')
      ->check(CLI::IsMember({"em-paper", "em-strong", "em-diag", "spectral"}));
  app.add_option("--restarts", restarts, "restarts of em-strong and em-diag (10)")
      ->check(CLI::PositiveNumber);
  app.add_option("--shift", shift, "task distribution: none, perturb, aniso (none)")
      ->check(CLI::IsMember({"none", "perturb", "aniso"}));
  app.add_option("--perturbation", perturbation, "std of the mean perturbation (0)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--threads", threads, "threads (default: all cores)")->check(CLI::PositiveNumber);
  app.add_flag("--json", json, "print the records as JSON on stdout");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "baselines: %s\n", e.what());
    return 2;
  }

  try {
    if (threads > 0) set_num_threads(threads);
    std::vector<Estimator> estimators;
    for (const auto& m : methods) {
      if (m == "em-strong")
        estimators.push_back(em_strong_estimator(restarts));
      else if (m == "em-diag")
        estimators.push_back(em_diagonal_estimator(restarts));
      else
        estimators.push_back(builtin_estimator(m));
    }
    std::ostream& table = json ? std::cerr : std::cout;
    std::vector<EvalRecord> all;
    for (int64_t d : ds) {
      EvalSettings s;
      s.d = d;
      s.ks = ks;
      s.ns = ns;
      s.tasks = tasks;
      s.seed = seed;
      s.shift = parse_shift(shift);
      s.perturbation_std = perturbation;
      const std::vector<EvalRecord> records = evaluate(estimators, s);
      table << "\n== d = " << d << ", " << tasks << " tasks per (K, N), seed " << seed << ", shift "
            << shift << " ==\n";
      print_table(table, records);
      all.insert(all.end(), records.begin(), records.end());
    }
    if (json) std::cout << to_json(all).dump(1) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "baselines: %s\n", e.what());
    return 2;
  }
}
