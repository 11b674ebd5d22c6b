// fit.cpp — tools/fit: estimate a Gaussian mixture's weights and means from a user's CSV of points.
//
//   tools/fit --csv points.csv --k 3 [--method em-paper|em-strong|spectral|tgmm --checkpoint FILE]
//   [--seed S] [--json]
//
// Reads one point per row (gmm/mixture/csv.h), wraps the points as a one-task batch and runs the
// chosen built-in estimator (gmm/mixture/evaluate.h) on it. Components are printed in ascending
// weight, the canonical slot order of the task prior. The log-likelihood is the average per point
// under the fitted mixture: unit variance, or the estimate's diagonal covariance when it has scales
// (a --covariance diag TGMM checkpoint). --json prints one object with keys weights, means,
// log_likelihood, iterations (0 for the spectral method, which does not iterate), method.
//
// Exit codes: 0 success; 2 bad flags or bad input (one line on stderr, with the CSV line
// number where there is one); 1 when the method cannot fit these data (e.g. spectral with
// K >= d).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gmm/mixture/csv.h"
#include "gmm/mixture/evaluate.h"
#include "gmm/tgmm/trainer.h"
#include "tools/lib/cli.h"
#include "tools/lib/tgmm_checkpoint.h"

using namespace tg;
using namespace tg::gmm;

namespace {

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "fit: %s\n", message.c_str());
  return code;
}

struct Options {
  std::string csv, method = "em-strong", checkpoint;
  int64_t k = 0;
  uint64_t seed = 0;
  bool json = false;
};

void print_text(const Options& o, const Tensor& x, const std::vector<double>& weights,
                const std::vector<std::vector<double>>& means, double ll, int64_t iterations) {
  std::printf("method: %s   K = %lld, N = %lld points, d = %lld\n", o.method.c_str(),
              static_cast<long long>(o.k), static_cast<long long>(x.size(0)),
              static_cast<long long>(x.size(1)));
  std::printf("log-likelihood per point: %.6f\n", ll);
  std::printf("iterations: %lld\n", static_cast<long long>(iterations));
  std::printf("%-9s %-10s %s\n", "component", "weight", "mean");
  for (size_t k = 0; k < weights.size(); ++k) {
    std::printf("%-9zu %-10.6f", k, weights[k]);
    for (double m : means[k]) std::printf(" %10.5f", m);
    std::printf("\n");
  }
}

void add_options(CLI::App& app, Options& o) {
  tools::cli::configure(app);
  app.add_option("--csv", o.csv, "points, comma-separated, optional header row")->required();
  tools::cli::add_number(app, "--k", o.k, "number of components")
      ->required()
      ->check(CLI::PositiveNumber)
      ->default_str("");
  tools::cli::add_text(app, "--method", o.method, "METHOD", "the estimator")
      ->check(CLI::IsMember({"em-paper", "em-strong", "spectral", "tgmm"}));
  app.add_option("--checkpoint", o.checkpoint, "trained TGMM model (with --method tgmm)");
  tools::cli::add_number(app, "--seed", o.seed, "random seed");
  app.add_flag("--json", o.json, "print one JSON object");
}

// What is wrong with --method and --checkpoint together ("" when nothing).
std::string checkpoint_problem(const Options& o) {
  if (o.method == "tgmm" && o.checkpoint.empty()) {
    return "--method tgmm needs --checkpoint DIR/model.safetensors (from tools/train)";
  }
  if (o.method != "tgmm" && !o.checkpoint.empty()) {
    return "--checkpoint is only used with --method tgmm";
  }
  return "";
}

// The trained TGMM on the points x (N, d); std::invalid_argument when it cannot read them.
Estimate fit_tgmm(const Options& o, const Tensor& x, Generator& gen) {
  const tools::LoadedTgmm m = tools::load_tgmm(o.checkpoint);
  const gmm::TgmmConfig& c = m.config;
  if (x.size(1) != c.d) {
    throw std::invalid_argument("the model was trained for d = " + std::to_string(c.d) + ", " +
                                o.csv + " has d = " + std::to_string(x.size(1)));
  }
  if (std::find(c.ks.begin(), c.ks.end(), o.k) == c.ks.end()) {
    throw std::invalid_argument("the model was not trained for K = " + std::to_string(o.k));
  }
  if (c.backbone == "gpt2" && x.size(0) > c.n_positions) {
    throw std::invalid_argument("this gpt2-backbone model reads at most " +
                                std::to_string(c.n_positions) + " points; " + o.csv + " has " +
                                std::to_string(x.size(0)));
  }
  return tgmm_estimator(*m.model).fit(points_batch(x.to(c.dtype), o.k), gen).at(0);
}

// The chosen method on the points x (N, d).
Estimate fit(const Options& o, const Tensor& x) {
  if (o.k > x.size(0)) {
    throw std::invalid_argument("--k " + std::to_string(o.k) + " exceeds the number of points (" +
                                std::to_string(x.size(0)) + ") in " + o.csv);
  }
  Generator gen(o.seed);
  if (o.method == "tgmm") return fit_tgmm(o, x, gen);
  return builtin_estimator(o.method).fit(points_batch(x, o.k), gen).at(0);
}

// The fitted components in ascending weight, as text or JSON on stdout.
void print_fit(const Options& o, const Tensor& x, const Estimate& e) {
  const double ll = mixture_log_likelihood(x, e.weights, e.means, e.scales);  // diag: its scales
  const std::vector<double> w = e.weights.to_vector(), mu = e.means.to_vector();
  std::vector<size_t> order(w.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return w[a] < w[b]; });
  const auto d = static_cast<size_t>(x.size(1));
  std::vector<double> weights;
  std::vector<std::vector<double>> means;
  for (size_t k : order) {
    weights.push_back(w[k]);
    means.emplace_back(mu.begin() + k * d, mu.begin() + (k + 1) * d);
  }
  if (o.json) {
    const nlohmann::json j = {{"method", o.method},
                              {"weights", weights},
                              {"means", means},
                              {"log_likelihood", ll},
                              {"iterations", e.iterations}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    print_text(o, x, weights, means, ll, e.iterations);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "fit: estimate the weights and means of a Gaussian mixture (unit variance) from a "
      "CSV of points, one point per row"};
  add_options(app, o);
  if (auto code = tools::cli::parse(app, argc, argv, "fit")) return *code;
  if (const std::string problem = checkpoint_problem(o); !problem.empty()) return fail(2, problem);
  try {
    const Tensor x = read_points_csv(o.csv);  // (N, d) f64
    const Estimate e = fit(o, x);
    if (!e.ok) return fail(1, o.method + " cannot fit these points: " + e.failure);
    print_fit(o, x, e);
    return 0;
  } catch (const std::exception& err) {
    return fail(2, err.what());
  }
}
