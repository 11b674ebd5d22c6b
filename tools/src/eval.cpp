// eval.cpp — tools/eval: score a trained TGMM checkpoint against EM (paper's, strong) and spectral.
//
//   tools/eval --checkpoint DIR/model.safetensors [--n 32,64,128] [--ood-scale S] [--tasks T]
//              [--shift none|perturb|aniso|phase] [--perturbation S] [--phase-a A] [--phase-b B]
//              [--seed S] [--methods tgmm,em-paper,em-strong,spectral] [--threads T] [--json]
//
// Builds the model from the configuration in the file's metadata (TgmmConfig::from_metadata),
// loads its weights, and runs the evaluation harness (gmm/mixture/evaluate.h) for every K the model
// was trained for and every N of --n, all methods on the same fresh tasks:
//   * in distribution: the training prior at N <= the training N;
//   * sample-size shift: the same prior at N > the training N (read from "train.n" in the
//     sibling training_state.safetensors; without that file every N counts as in distribution);
//   * one shifted distribution, with --shift (tools/lib/shift_flags.h):
//       perturb  means U(-5,5)^d + N(0, S^2 I), S = --perturbation; --ood-scale S is short for
//                --shift perturb --perturbation S (and refused together with either);
//       aniso    anisotropic components (TGMM and the unit-variance methods are then misspecified;
//                --methods em-diag adds the diagonal-covariance EM);
//       phase    K = 2, separation sqrt((1 + sqrt(A)) ln N). TGMM reads only the d it was trained
//                for: without --phase-b every N uses the checkpoint's d; with it, d =
//                floor(B N ln N) must equal the checkpoint's d at every N while tgmm is among the
//                methods (refused otherwise, naming the range of B that fits), and the model
//                must know K = 2. Without tgmm, the baselines run at the derived d.
// A diagonal-covariance checkpoint (trained with --covariance diag) is evaluated on anisotropic
// tasks (the prior of its training) instead, against the diagonal EMs (em-paper-diag, em-diag)
// and spectral, which fails there by construction; the records add the scale error, and --shift
// and --ood-scale are refused (the other shifts draw unit-variance tasks).
// A gpt2-backbone model has learned position embeddings for n_positions points, so it cannot
// read more; asking for a larger N is an error (the default --n is cut to what it can read).
// --json prints one object: {"checkpoint", "covariance" (unit|diag), "train_n", "tasks", "seed", "in_distribution":
// [records], "sample_size_shift": [records] (if any), and with a shift one of
// "mean_perturbation" [records] with "perturbation_std", "anisotropic" [records], or
// "phase_transition" [records] with "phase_a" and "phase_b" (null: the checkpoint's d)};
// records with the harness JSON keys and "shift" with its parameters (shift_flags.h).
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
#include "tools/lib/shift_flags.h"
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
  tools::ShiftFlags shift;
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
  tools::cli::add_number(app, "--ood-scale", ood_scale,
                         "also evaluate with means perturbed by N(0, S^2 I)")
      ->default_str("");
  tools::cli::add_number(app, "--tasks", o.tasks, "tasks per (K, N)");
  tools::cli::add_number(app, "--seed", o.seed, "evaluation seed");
  CLI::Option* methods =
      tools::cli::add_name_list(app, "--methods", o.methods, known_methods(), "method",
                                "methods to compare (a diag checkpoint: "
                                "tgmm,em-paper-diag,em-diag,spectral)");
  tools::cli::add_number(app, "--threads", o.threads, "threads (0: all cores)");
  o.shift.add_to(app, "the checkpoint's d");
  app.add_flag("--json", o.json, "print one JSON object");
  if (auto code = tools::cli::parse(app, argc, argv, "eval")) {
    exit_code = *code;
    return std::nullopt;
  }
  const bool ood = app.get_option("--ood-scale")->count() > 0;
  o.methods_given = methods->count() > 0;
  std::string problem = o.shift.problem(app);
  if (ood && (tools::ShiftFlags::given(app, "--shift") ||
              tools::ShiftFlags::given(app, "--perturbation"))) {
    problem = "--ood-scale S is short for --shift perturb --perturbation S: give one or the other";
  } else if (ood && !(ood_scale >= 0)) {
    problem = "--ood-scale must be >= 0";
  } else if (o.tasks < 1) {
    problem = "--tasks must be >= 1";
  } else if (o.threads < 0) {
    problem = "--threads must be >= 0";
  }
  if (ood) {
    o.shift.shift = Shift::MeanPerturbation;
    o.shift.perturbation = ood_scale;
  }
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

// A diagonal checkpoint's defaults: the diagonal methods unless --methods was given. Its own
// prior is the anisotropic one, so a --shift (or --ood-scale) is refused (std::invalid_argument):
// the other shifts draw unit-variance tasks.
void adapt_to_checkpoint(Options& o, const TgmmConfig& config) {
  if (config.covariance != Covariance::Diagonal) return;
  if (o.shift.shift != Shift::None) {
    throw std::invalid_argument(
        "--shift/--ood-scale: a diag checkpoint is evaluated on anisotropic tasks, its own "
        "prior, only");
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
  std::vector<EvalRecord> in_distribution, size_shift, shifted;
};

bool evaluates_tgmm(const Options& o) {
  return std::find(o.methods.begin(), o.methods.end(), "tgmm") != o.methods.end();
}

// The phase transition against the checkpoint: TGMM needs K = 2 among its K, and reads only the
// d it was trained for, so with --phase-b every N's d = floor(b N ln N) must be that d.
void check_phase_transition(const Options& o, const TgmmConfig& config,
                            const std::vector<int64_t>& ns) {
  if (o.shift.shift != Shift::PhaseTransition || !evaluates_tgmm(o)) return;
  if (std::find(config.ks.begin(), config.ks.end(), 2) == config.ks.end()) {
    throw std::invalid_argument(
        "--shift phase has K = 2, which this model was not trained for "
        "(leave tgmm out of --methods to run the baselines)");
  }
  if (o.shift.phase_b <= 0) return;  // d = the checkpoint's d
  for (int64_t n : ns) {
    const int64_t d = phase_transition_dimension(n, o.shift.phase_b);
    if (d == config.d) continue;
    const double n_ln_n = static_cast<double>(n) * std::log(static_cast<double>(n));
    std::ostringstream os;
    os << "--shift phase: at N = " << n << ", d = floor(b N ln N) = " << d
       << " but the model reads only d = " << config.d << " (b in ["
       << static_cast<double>(config.d) / n_ln_n << ", "
       << static_cast<double>(config.d + 1) / n_ln_n << ") gives d = " << config.d
       << "; without --phase-b every N uses the model's d)";
    throw std::invalid_argument(os.str());
  }
}

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
  if (o.shift.shift != Shift::None) {
    o.shift.apply(settings);
    if (o.shift.shift == Shift::PhaseTransition) settings.ks = {2};
    results.shifted = evaluate(estimators, settings);
  }
  return results;
}

// The JSON key of the shifted records.
const char* shifted_key(Shift shift) {
  switch (shift) {
    case Shift::MeanPerturbation:
      return "mean_perturbation";
    case Shift::Anisotropic:
      return "anisotropic";
    case Shift::PhaseTransition:
      return "phase_transition";
    case Shift::None:
      break;
  }
  return "";
}

nlohmann::json results_json(const Options& o, const tools::LoadedTgmm& m, const Results& r) {
  const tools::ShiftFlags prior;  // the unshifted records
  nlohmann::json j = {{"checkpoint", m.path},
                      {"covariance", covariance_name(m.config.covariance)},
                      {"train_n", m.train_n ? nlohmann::json(*m.train_n) : nlohmann::json()},
                      {"tasks", o.tasks},
                      {"seed", o.seed},
                      {"in_distribution", prior.records_json(r.in_distribution)}};
  if (!r.size_shift.empty()) j["sample_size_shift"] = prior.records_json(r.size_shift);
  if (o.shift.shift == Shift::MeanPerturbation) j["perturbation_std"] = o.shift.perturbation;
  if (o.shift.shift == Shift::PhaseTransition) {
    j["phase_a"] = o.shift.phase_a;
    j["phase_b"] = o.shift.phase_b > 0 ? nlohmann::json(o.shift.phase_b) : nlohmann::json();
  }
  if (o.shift.shift != Shift::None) j[shifted_key(o.shift.shift)] = o.shift.records_json(r.shifted);
  return j;
}

void print_results(const Options& o, const tools::LoadedTgmm& m, const Results& r) {
  std::cout << describe(m) << "\n" << o.tasks << " fresh tasks per (K, N), seed " << o.seed << "\n";
  const std::string n_note = m.train_n ? " (N <= " + std::to_string(*m.train_n) + ")" : "";
  print_section("in distribution" + n_note, r.in_distribution, o.methods);
  print_section("sample-size shift (N > training N = " +
                    (m.train_n ? std::to_string(*m.train_n) : std::string("?")) + ")",
                r.size_shift, o.methods);
  print_section(o.shift.describe(m.config.d), r.shifted, o.methods);
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
    check_phase_transition(*o, m.config, ns);
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
