// eval.cpp — tools/eval: score a trained TGMM checkpoint against EM (paper's, strong) and spectral.
//
//   tools/eval --checkpoint DIR/model.safetensors [--n 32,64,128] [--ood-scale S] [--tasks T]
//              [--seed S] [--methods tgmm,em-paper,em-strong,spectral] [--threads T] [--json]
//
// Builds the model from the configuration in the file's metadata (TgmmConfig::from_metadata),
// loads its weights, and runs the evaluation harness (gmm/mixture/evaluate.h) for every K the model
// was trained for and every N of --n, all methods on the same fresh tasks:
//   * in distribution: the training prior at N <= the training N;
//   * sample-size shift: the same prior at N > the training N (read from "train.n" in the
//     sibling training_state.safetensors; without that file every N counts as in distribution);
//   * mean perturbation (only with --ood-scale S): means U(-5,5)^d + N(0, S^2 I).
// A diagonal-covariance checkpoint (trained with --covariance diag) is evaluated on anisotropic
// tasks (the prior of its training) instead, against the diagonal EMs (em-paper-diag, em-diag)
// and spectral, which fails there by construction; the records add the scale error, and
// --ood-scale is refused (the mean perturbation draws unit-variance tasks).
// A gpt2-backbone model has learned position embeddings for n_positions points, so it cannot
// read more; asking for a larger N is an error (the default --n is cut to what it can read).
// --json prints one object: {"checkpoint", "covariance" (unit|diag), "train_n", "tasks", "seed",
// "in_distribution": [records], "sample_size_shift": [records] (if any), "mean_perturbation":
// [records] and "perturbation_std" (with --ood-scale)}, records with the harness JSON keys.
//
// Exit codes: 0 done; 2 bad flags, or a missing or unreadable checkpoint (one line on stderr
// naming the file and the reason); 1 the evaluation itself failed.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gmm/mixture/evaluate.h"
#include "gmm/tgmm/trainer.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "tools/lib/cli.h"
#include "tools/lib/tgmm_checkpoint.h"

using namespace tg;
using namespace tg::gmm;
namespace fs = std::filesystem;

namespace {

const std::vector<int64_t> kDefaultNs = {32, 64, 128};
const std::vector<std::string> kDiagonalMethods = {"tgmm", "em-paper-diag", "em-diag", "spectral"};

struct Options {
  std::string checkpoint;
  std::vector<int64_t> ns;  // empty: kDefaultNs, cut to what the model can read
  std::optional<double> ood_scale;
  int64_t tasks = 128;
  uint64_t seed = 0;
  std::vector<std::string> methods = {"tgmm", "em-paper", "em-strong", "spectral"};
  bool methods_given = false;  // else a diagonal checkpoint takes kDiagonalMethods
  int threads = 0;
  bool json = false;
};

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "eval: %s\n", message.c_str());
  return code;
}

// Every method --methods may name: TGMM and the built-in baselines.
std::vector<std::string> known_methods() {
  std::vector<std::string> known = builtin_estimator_names();
  known.insert(known.begin(), "tgmm");
  return known;
}

// The command line; nullopt after help or a usage error (its exit code in `exit_code`).
std::optional<Options> parse_options(int argc, char** argv, int& exit_code) {
  Options o;
  double ood_scale = 0;
  CLI::App app{"tools/eval: TGMM vs EM (paper's, strong) and spectral on fresh tasks"};
  tools::cli::configure(app);
  app.add_option("--checkpoint", o.checkpoint, "DIR/model.safetensors (or the run DIR)")
      ->required();
  tools::cli::add_int_list(app, "--n", o.ns, "evaluation N (cut to what a gpt2 model reads)", true)
      ->default_str(tools::cli::format_int_list(kDefaultNs));
  CLI::Option* ood = tools::cli::add_number(app, "--ood-scale", ood_scale,
                                            "also evaluate with means perturbed by N(0, S^2 I)")
                         ->default_str("");
  tools::cli::add_number(app, "--tasks", o.tasks, "tasks per (K, N)");
  tools::cli::add_number(app, "--seed", o.seed, "evaluation seed");
  CLI::Option* methods =
      tools::cli::add_name_list(app, "--methods", o.methods, known_methods(), "method",
                                "methods to compare (a diag checkpoint: "
                                "tgmm,em-paper-diag,em-diag,spectral)");
  tools::cli::add_number(app, "--threads", o.threads, "threads (0: all cores)");
  app.add_flag("--json", o.json, "print one JSON object");
  if (auto code = tools::cli::parse(app, argc, argv, "eval")) {
    exit_code = *code;
    return std::nullopt;
  }
  if (ood->count() > 0) o.ood_scale = ood_scale;
  o.methods_given = methods->count() > 0;
  std::string problem;
  if (o.ood_scale && !(*o.ood_scale >= 0))
    problem = "--ood-scale must be >= 0";
  else if (o.tasks < 1)
    problem = "--tasks must be >= 1";
  else if (o.threads < 0)
    problem = "--threads must be >= 0";
  if (!problem.empty()) {
    exit_code = tools::cli::usage_error("eval", problem);
    return std::nullopt;
  }
  return o;
}

// The N to evaluate: --n as given (refused beyond a gpt2 model's positions), or the default
// list cut to what the model can read.
std::vector<int64_t> evaluation_ns(const Options& o, const TgmmConfig& config) {
  const bool limited = config.backbone == "gpt2";
  if (!o.ns.empty()) {
    for (int64_t n : o.ns) {
      if (limited && n > config.n_positions) {
        throw std::invalid_argument("--n " + std::to_string(n) +
                                    ": this gpt2-backbone model has learned position embeddings "
                                    "for at most " +
                                    std::to_string(config.n_positions) +
                                    " points and cannot read more (a set-backbone model can)");
      }
    }
    return o.ns;
  }
  std::vector<int64_t> ns;
  for (int64_t n : kDefaultNs) {
    if (!limited || n <= config.n_positions) ns.push_back(n);
  }
  if (ns.size() < kDefaultNs.size()) {
    std::fprintf(stderr, "eval: note: this gpt2-backbone model reads at most %lld points; ",
                 static_cast<long long>(config.n_positions));
    std::fprintf(stderr, "larger N are skipped\n");
  }
  if (ns.empty()) ns.push_back(config.n_positions);
  return ns;
}

// A diagonal checkpoint's defaults: the diagonal methods unless --methods was given; --ood-scale
// is refused (std::invalid_argument).
void adapt_to_checkpoint(Options& o, const TgmmConfig& config) {
  if (config.covariance != Covariance::Diagonal) return;
  if (o.ood_scale) {
    throw std::invalid_argument(
        "--ood-scale: the mean perturbation draws unit-variance tasks; a diag checkpoint is "
        "evaluated on anisotropic tasks only");
  }
  if (!o.methods_given) o.methods = kDiagonalMethods;
}

std::string describe(const tools::LoadedTgmm& m) {
  const TgmmConfig& c = m.config;
  std::ostringstream os;
  os << m.path << ": d=" << c.d << ", K in {";
  for (size_t i = 0; i < c.ks.size(); ++i) os << (i ? "," : "") << c.ks[i];
  os << "}, " << c.backbone << " backbone, D=" << c.embd << ", L=" << c.layers << ", H=" << c.heads
     << ", " << weight_head_name(c.weight_head) << " weight head";
  if (c.covariance == Covariance::Diagonal) os << ", diag covariance (anisotropic tasks)";
  if (m.train_n) os << "; trained with N <= " << *m.train_n;
  return os.str();
}

// l2-error per (K, N), one column per method; '*' marks the lowest of the row.
void print_l2_matrix(std::ostream& os, const std::vector<EvalRecord>& records,
                     const std::vector<std::string>& methods) {
  char cell[64];
  int width = 11;  // wider for a longer name (em-paper-diag)
  for (const auto& m : methods) width = std::max(width, static_cast<int>(m.size()));
  os << "l2-error (mean over tasks; * = lowest)\n";
  std::snprintf(cell, sizeof cell, "%-4s %-5s", "K", "N");
  os << cell;
  for (const auto& m : methods) {
    std::snprintf(cell, sizeof cell, " %*s", width, m.c_str());
    os << cell;
  }
  os << "\n";
  std::set<std::pair<int64_t, int64_t>> seen;
  for (const auto& r : records) {
    if (!seen.insert({r.k, r.n}).second) continue;
    std::vector<double> row;  // NaN: no record, or every task failed
    for (const auto& m : methods) {
      double v = NAN;
      for (const auto& s : records) {
        if (s.k == r.k && s.n == r.n && s.method == m && s.metrics.l2_error.count > 0) {
          v = s.metrics.l2_error.mean;
        }
      }
      row.push_back(v);
    }
    double best = INFINITY;
    for (double v : row) best = std::isnan(v) ? best : std::min(best, v);
    std::snprintf(cell, sizeof cell, "%-4lld %-5lld", static_cast<long long>(r.k),
                  static_cast<long long>(r.n));
    os << cell;
    for (double v : row) {
      if (std::isnan(v)) {
        std::snprintf(cell, sizeof cell, " %*s", width, "failed");
      } else {
        std::snprintf(cell, sizeof cell, " %*.4f%c", width - 1, v, v == best ? '*' : ' ');
      }
      os << cell;
    }
    os << "\n";
  }
}

void print_section(const std::string& title, const std::vector<EvalRecord>& records,
                   const std::vector<std::string>& methods) {
  if (records.empty()) return;
  std::cout << "\n== " << title << " ==\n";
  print_table(std::cout, records);
  std::cout << "\n";
  print_l2_matrix(std::cout, records, methods);
}

// The records of every method, by kind of task.
struct Results {
  std::vector<EvalRecord> in_distribution, size_shift, perturbed;
};

Results run_evaluations(const Options& o, const tools::LoadedTgmm& m,
                        const std::vector<int64_t>& ns) {
  std::vector<Estimator> estimators;
  for (const auto& name : o.methods) {
    estimators.push_back(name == "tgmm" ? tgmm_estimator(*m.model) : builtin_estimator(name));
  }
  EvalSettings settings;
  settings.d = m.config.d;
  settings.ks = m.config.ks;
  settings.ns = ns;
  settings.tasks = o.tasks;
  settings.seed = o.seed;
  if (m.config.covariance == Covariance::Diagonal) settings.shift = Shift::Anisotropic;
  Results results;
  for (auto& r : evaluate(estimators, settings)) {
    (m.train_n && r.n > *m.train_n ? results.size_shift : results.in_distribution)
        .push_back(std::move(r));
  }
  if (o.ood_scale) {
    settings.shift = Shift::MeanPerturbation;
    settings.perturbation_std = *o.ood_scale;
    results.perturbed = evaluate(estimators, settings);
  }
  return results;
}

nlohmann::json results_json(const Options& o, const tools::LoadedTgmm& m, const Results& r) {
  nlohmann::json j = {{"checkpoint", m.path},
                      {"covariance", covariance_name(m.config.covariance)},
                      {"train_n", m.train_n ? nlohmann::json(*m.train_n) : nlohmann::json()},
                      {"tasks", o.tasks},
                      {"seed", o.seed},
                      {"in_distribution", to_json(r.in_distribution)}};
  if (!r.size_shift.empty()) j["sample_size_shift"] = to_json(r.size_shift);
  if (o.ood_scale) {
    j["perturbation_std"] = *o.ood_scale;
    j["mean_perturbation"] = to_json(r.perturbed);
  }
  return j;
}

void print_results(const Options& o, const tools::LoadedTgmm& m, const Results& r) {
  std::cout << describe(m) << "\n" << o.tasks << " fresh tasks per (K, N), seed " << o.seed << "\n";
  const std::string n_note = m.train_n ? " (N <= " + std::to_string(*m.train_n) + ")" : "";
  print_section("in distribution" + n_note, r.in_distribution, o.methods);
  print_section("sample-size shift (N > training N = " +
                    (m.train_n ? std::to_string(*m.train_n) : std::string("?")) + ")",
                r.size_shift, o.methods);
  std::ostringstream scale;
  if (o.ood_scale) scale << *o.ood_scale;
  print_section("mean perturbation (s = " + scale.str() + ")", r.perturbed, o.methods);
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  std::optional<Options> o = parse_options(argc, argv, exit_code);
  if (!o) return exit_code;
  if (o->threads > 0) set_num_threads(o->threads);

  tools::LoadedTgmm m;
  std::vector<int64_t> ns;
  try {
    m = tools::load_tgmm(o->checkpoint);
    adapt_to_checkpoint(*o, m.config);
    ns = evaluation_ns(*o, m.config);
  } catch (const std::exception& e) {
    return fail(2, e.what());
  }
  try {
    const Results results = run_evaluations(*o, m, ns);
    if (o->json) {
      std::cout << results_json(*o, m, results).dump() << "\n";
    } else {
      print_results(*o, m, results);
    }
  } catch (const std::exception& e) {
    return fail(1, e.what());
  }
  return 0;
}
