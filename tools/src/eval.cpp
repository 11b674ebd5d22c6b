// eval.cpp — tools/eval: score a trained TGMM checkpoint against EM (paper's, strong) and spectral.
//
//   tools/eval --checkpoint DIR/model.safetensors [--n 32,64,128] [--ood-scale S] [--tasks T]
//              [--seed S] [--methods tgmm,em-paper,em-strong,spectral] [--threads T] [--json]
//
// Builds the model from the configuration in the file's metadata (TgmmConfig::from_metadata),
// loads its weights, and runs the evaluation harness (gmm/mixture/evaluate.h) for every K the model was
// trained for and every N of --n, all methods on the same fresh tasks:
//   * in distribution: the training prior at N <= the training N;
//   * sample-size shift: the same prior at N > the training N (read from "train.n" in the
//     sibling training_state.safetensors; without that file every N counts as in distribution);
//   * mean perturbation (only with --ood-scale S): means U(-5,5)^d + N(0, S^2 I).
// A gpt2-backbone model has learned position embeddings for n_positions points, so it cannot
// read more; asking for a larger N is an error (the default --n is cut to what it can read).
// --json prints one object: {"checkpoint", "train_n", "tasks", "seed", "in_distribution":
// [records], "sample_size_shift": [records] (if any), "mean_perturbation": [records] and
// "perturbation_std" (with --ood-scale)}, records with the harness JSON keys.
//
// Exit codes: 0 done; 2 bad flags, or a missing or unreadable checkpoint (one line on stderr
// naming the file and the reason); 1 the evaluation itself failed.
#include <CLI/CLI.hpp>

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
#include "tools/lib/tgmm_checkpoint.h"

using namespace tg;
using namespace tg::gmm;
namespace fs = std::filesystem;

namespace {

const std::vector<int64_t> kDefaultNs = {32, 64, 128};

struct Options {
  std::string checkpoint, ns, methods = "tgmm,em-paper,em-strong,spectral";
  std::optional<double> ood_scale;
  int64_t tasks = 128;
  uint64_t seed = 0;
  int threads = 0;
  bool json = false;
};

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "eval: %s\n", message.c_str());
  return code;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) items.push_back(item);
  return items;
}

std::vector<int64_t> parse_ns(const std::string& text) {
  std::vector<int64_t> ns;
  for (const auto& item : split(text)) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v < 1) {
      throw std::invalid_argument("--n: '" + text +
                                  "' is not a comma-separated list of positive integers");
    }
    ns.push_back(v);
  }
  if (ns.empty()) throw std::invalid_argument("--n: empty list");
  return ns;
}

std::vector<std::string> parse_methods(const std::string& text) {
  std::vector<std::string> known = builtin_estimator_names();
  known.insert(known.begin(), "tgmm");
  std::vector<std::string> methods;
  for (const auto& m : split(text)) {
    if (std::find(known.begin(), known.end(), m) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw std::invalid_argument("--methods: unknown method '" + m + "' (expected " + list + ")");
    }
    if (std::find(methods.begin(), methods.end(), m) == methods.end()) methods.push_back(m);
  }
  if (methods.empty()) throw std::invalid_argument("--methods: empty list");
  return methods;
}

// The N to evaluate: --n as given (refused beyond a gpt2 model's positions), or the default
// list cut to what the model can read.
std::vector<int64_t> evaluation_ns(const Options& o, const TgmmConfig& config) {
  const bool limited = config.backbone == "gpt2";
  if (!o.ns.empty()) {
    const std::vector<int64_t> ns = parse_ns(o.ns);
    for (int64_t n : ns) {
      if (limited && n > config.n_positions) {
        throw std::invalid_argument("--n " + std::to_string(n) +
                                    ": this gpt2-backbone model has learned position embeddings "
                                    "for at most " +
                                    std::to_string(config.n_positions) +
                                    " points and cannot read more (a set-backbone model can)");
      }
    }
    return ns;
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

std::string describe(const tools::LoadedTgmm& m) {
  const TgmmConfig& c = m.config;
  std::ostringstream os;
  os << m.path << ": d=" << c.d << ", K in {";
  for (size_t i = 0; i < c.ks.size(); ++i) os << (i ? "," : "") << c.ks[i];
  os << "}, " << c.backbone << " backbone, D=" << c.embd << ", L=" << c.layers << ", H=" << c.heads
     << ", " << weight_head_name(c.weight_head) << " weight head";
  if (m.train_n) os << "; trained with N <= " << *m.train_n;
  return os.str();
}

// l2-error per (K, N), one column per method; '*' marks the lowest of the row.
void print_l2_matrix(std::ostream& os, const std::vector<EvalRecord>& records,
                     const std::vector<std::string>& methods) {
  char cell[64];
  os << "l2-error (mean over tasks; * = lowest)\n";
  std::snprintf(cell, sizeof cell, "%-4s %-5s", "K", "N");
  os << cell;
  for (const auto& m : methods) {
    std::snprintf(cell, sizeof cell, " %11s", m.c_str());
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
        std::snprintf(cell, sizeof cell, " %11s", "failed");
      } else {
        std::snprintf(cell, sizeof cell, " %10.4f%c", v, v == best ? '*' : ' ');
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

}  // namespace

int main(int argc, char** argv) {
  Options o;
  double ood_scale = 0;
  CLI::App app{"tools/eval: TGMM vs EM (paper's, strong) and spectral on fresh tasks"};
  app.add_option("--checkpoint", o.checkpoint, "DIR/model.safetensors (or the run DIR)")
      ->required();
  app.add_option("--n", o.ns, "evaluation N, comma-separated (default 32,64,128)");
  auto* ood =
      app.add_option("--ood-scale", ood_scale, "also evaluate with means perturbed by N(0, S^2 I)");
  app.add_option("--tasks", o.tasks, "tasks per (K, N) (default 128)");
  app.add_option("--seed", o.seed, "evaluation seed (default 0)");
  app.add_option("--methods", o.methods,
                 "comma-separated: tgmm,em-paper,em-strong,spectral (default all)");
  app.add_option("--threads", o.threads, "threads (default: all cores)");
  app.add_flag("--json", o.json, "print one JSON object");
  std::vector<std::string> methods;
  try {
    app.parse(argc, argv);
    if (ood->count() > 0) o.ood_scale = ood_scale;
    if (o.ood_scale && !(*o.ood_scale >= 0))
      throw std::invalid_argument("--ood-scale must be >= 0");
    if (o.tasks < 1) throw std::invalid_argument("--tasks must be >= 1");
    if (o.threads < 0) throw std::invalid_argument("--threads must be >= 0");
    methods = parse_methods(o.methods);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(2, e.what());
  } catch (const std::exception& e) {
    return fail(2, e.what());
  }
  if (o.threads > 0) set_num_threads(o.threads);

  tools::LoadedTgmm m;
  std::vector<int64_t> ns;
  try {
    m = tools::load_tgmm(o.checkpoint);
    ns = evaluation_ns(o, m.config);
  } catch (const std::exception& e) {
    return fail(2, e.what());
  }

  try {
    std::vector<Estimator> estimators;
    for (const auto& name : methods) {
      estimators.push_back(name == "tgmm" ? tgmm_estimator(*m.model) : builtin_estimator(name));
    }
    EvalSettings settings;
    settings.d = m.config.d;
    settings.ks = m.config.ks;
    settings.ns = ns;
    settings.tasks = o.tasks;
    settings.seed = o.seed;
    std::vector<EvalRecord> in_distribution, size_shift, perturbed;
    for (auto& r : evaluate(estimators, settings)) {
      (m.train_n && r.n > *m.train_n ? size_shift : in_distribution).push_back(std::move(r));
    }
    if (o.ood_scale) {
      settings.shift = Shift::MeanPerturbation;
      settings.perturbation_std = *o.ood_scale;
      perturbed = evaluate(estimators, settings);
    }

    if (o.json) {
      nlohmann::json j = {{"checkpoint", m.path},
                          {"train_n", m.train_n ? nlohmann::json(*m.train_n) : nlohmann::json()},
                          {"tasks", o.tasks},
                          {"seed", o.seed},
                          {"in_distribution", to_json(in_distribution)}};
      if (!size_shift.empty()) j["sample_size_shift"] = to_json(size_shift);
      if (o.ood_scale) {
        j["perturbation_std"] = *o.ood_scale;
        j["mean_perturbation"] = to_json(perturbed);
      }
      std::cout << j.dump() << "\n";
      return 0;
    }
    std::cout << describe(m) << "\n"
              << o.tasks << " fresh tasks per (K, N), seed " << o.seed << "\n";
    const std::string n_note = m.train_n ? " (N <= " + std::to_string(*m.train_n) + ")" : "";
    print_section("in distribution" + n_note, in_distribution, methods);
    print_section("sample-size shift (N > training N = " +
                      (m.train_n ? std::to_string(*m.train_n) : std::string("?")) + ")",
                  size_shift, methods);
    std::ostringstream scale;
    if (o.ood_scale) scale << *o.ood_scale;
    print_section("mean perturbation (s = " + scale.str() + ")", perturbed, methods);
  } catch (const std::exception& e) {
    return fail(1, e.what());
  }
  return 0;
}
