// fit.cpp — tools/fit: estimate a Gaussian mixture's weights, means (and variances) from a user's
// CSV of points.
//
//   tools/fit --csv points.csv --k 3 [--method em-paper|em-strong|spectral|tgmm --checkpoint FILE]
//   [--covariance unit|spherical|diag] [--standardize] [--assignments] [--seed S] [--json]
//
// Reads one point per row (gmm/mixture/csv.h), wraps the points as a one-task batch and runs the
// chosen built-in estimator (gmm/mixture/evaluate.h) on it. Components are printed in ascending
// weight, the canonical slot order of the task prior.
//
// The model: --covariance unit (the default, the paper's) N(x; mu_k, I); spherical N(x; mu_k,
// s_k^2 I), one variance per component; diag N(x; mu_k, diag(s_k^2)). The EM methods fit any of
// them (gmm/mixture/em.h). The spectral method estimates one variance shared by all components:
// with spherical it reports that variance for every component, and diag is refused. TGMM fits the
// model it was trained for: unit, or diag for a `tools/train --covariance diag` checkpoint (its
// scales then come from the model); anything else is refused.
// --standardize fits the points centred and scaled to unit variance per column (the population
// std; a constant column is only centred), then reports everything in the original units: means
// c + s * mu, scales s * sigma (sigma = 1 for the unit model, so a standardized unit fit has scales
// s, the same for every component), and the log-likelihood of the original points under that
// mixture.
//
// Output. The log-likelihood is the average per point under the fitted mixture, in the original
// units. --json prints one object with keys weights, means, log_likelihood, iterations (0 for the
// spectral method, which does not iterate), method. With any of --covariance (other than unit),
// --standardize or --assignments the output is extended by covariance (its name), standardized
// (true or false), scales (K, d: the standard deviation per component and coordinate, ones for
// the unit model) and fit_seconds (the wall time of the fit itself, without reading the CSV or
// loading a model); with --assignments also by assignments (N): for each point, in file order,
// the printed component (0-based) with the highest posterior probability. The text output shows
// the same.
//
// Exit codes: 0 success; 2 bad flags or bad input (one line on stderr, with the CSV line
// number where there is one), or a covariance the method cannot fit; 1 when the method cannot fit
// these data (e.g. spectral with K >= d).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gmm/mixture/csv.h"
#include "gmm/mixture/evaluate.h"
#include "gmm/mixture/spectral.h"
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

// The --covariance flag: the library's names, refused with the flag named.
Covariance parse_covariance_flag(const std::string& text) {
  try {
    return parse_covariance(text);
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError(std::string("--covariance: ") + e.what());
  }
}

struct Options {
  std::string csv, method = "em-strong", checkpoint;
  int64_t k = 0;
  uint64_t seed = 0;
  Covariance covariance = Covariance::Unit;
  bool covariance_given = false;  // else --method tgmm takes the checkpoint's
  bool standardize = false, assignments = false, json = false;

  // Whether the output is the extended one (covariance, standardized, scales, fit_seconds): with
  // any of --covariance (other than unit), --standardize, --assignments.
  bool extended() const { return covariance != Covariance::Unit || standardize || assignments; }
};

void add_options(CLI::App& app, Options& o) {
  tools::cli::configure(app);
  app.add_option("--csv", o.csv, "points, comma-separated, optional header row")->required();
  tools::cli::add_number(app, "--k", o.k, "number of components")
      ->required()
      ->check(tools::cli::at_least(0, true, "POSITIVE"))
      ->default_str("");
  tools::cli::add_text(app, "--method", o.method, "METHOD", "the estimator")
      ->check(CLI::IsMember({"em-paper", "em-strong", "spectral", "tgmm"}));
  app.add_option("--checkpoint", o.checkpoint, "trained TGMM model (with --method tgmm)");
  tools::cli::add_choice(app, "--covariance", o.covariance, parse_covariance_flag, covariance_name,
                         "unit|spherical|diag",
                         "component covariance: I, s_k^2 I, or diag(s_k^2) (EM: all; spectral: "
                         "unit, spherical; tgmm: what it was trained for)");
  app.add_flag("--standardize", o.standardize,
               "fit the columns centred and scaled to unit variance; report in original units");
  app.add_flag("--assignments", o.assignments, "also print each point's most probable component");
  tools::cli::add_number(app, "--seed", o.seed, "random seed");
  app.add_flag("--json", o.json, "print one JSON object");
}

// What is wrong with --method, --checkpoint and --covariance together ("" when nothing).
std::string options_problem(const Options& o) {
  if (o.method == "tgmm" && o.checkpoint.empty()) {
    return "--method tgmm needs --checkpoint DIR/model.safetensors (from tools/train)";
  }
  if (o.method != "tgmm" && !o.checkpoint.empty()) {
    return "--checkpoint is only used with --method tgmm";
  }
  if (o.method == "spectral" && o.covariance == Covariance::Diagonal) {
    return "--covariance diag: the spectral method estimates one variance shared by all "
           "components (use unit or spherical)";
  }
  if (o.method == "tgmm" && o.covariance == Covariance::Spherical) {
    return "--covariance spherical: a TGMM model estimates the mixture it was trained for (unit, "
           "or diag for a --covariance diag model)";
  }
  return "";
}

// Column centring and scaling: z = (x - centre) / scale.
struct Standardization {
  std::vector<double> centre;  // (d) column means
  std::vector<double> scale;   // (d) population std, 1 for a constant column
};

Standardization column_standardization(const Tensor& x) {
  const int64_t N = x.size(0), d = x.size(1);
  const std::vector<double> v = x.to_vector();
  Standardization st{std::vector<double>(d, 0.0), std::vector<double>(d, 0.0)};
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < d; ++c) st.centre[c] += v[n * d + c] / static_cast<double>(N);
  }
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < d; ++c) {
      st.scale[c] += std::pow(v[n * d + c] - st.centre[c], 2) / static_cast<double>(N);
    }
  }
  for (double& s : st.scale) s = s > 0.0 ? std::sqrt(s) : 1.0;
  return st;
}

Tensor standardized(const Tensor& x, const Standardization& st) {
  const int64_t N = x.size(0), d = x.size(1);
  std::vector<double> z = x.to_vector();  // (N, d)
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < d; ++c) z[n * d + c] = (z[n * d + c] - st.centre[c]) / st.scale[c];
  }
  return from_vector(z, {N, d}, DType::F64);
}

// An estimate of standardized points back in the original units: mu = c + s mu_z, sigma = s
// sigma_z (sigma_z = 1 for the unit model).
Estimate in_original_units(const Estimate& e, const Standardization& st) {
  const int64_t K = e.means.size(0), d = e.means.size(1);
  std::vector<double> mu = e.means.to_vector();
  std::vector<double> sigma =
      e.scales.defined() ? e.scales.to_vector() : std::vector<double>(K * d, 1.0);  // (K, d)
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t c = 0; c < d; ++c) {
      mu[k * d + c] = st.centre[c] + st.scale[c] * mu[k * d + c];
      sigma[k * d + c] *= st.scale[c];
    }
  }
  Estimate out = e;
  out.means = from_vector(mu, {K, d}, DType::F64);
  out.scales = from_vector(sigma, {K, d}, DType::F64);
  return out;
}

// --method tgmm fits the covariance the checkpoint was trained with: the default --covariance
// becomes the model's; a different one given on the command line is refused.
Covariance tgmm_covariance(const Options& o, const gmm::TgmmConfig& c) {
  if (o.covariance_given && o.covariance != c.covariance) {
    throw std::invalid_argument(std::string("--covariance ") + covariance_name(o.covariance) +
                                ": the model estimates the " + covariance_name(c.covariance) +
                                "-covariance mixture it was trained for");
  }
  return c.covariance;
}

// The trained TGMM on the points x (N, d); std::invalid_argument when it cannot read them.
Estimate fit_tgmm(const Options& o, const tools::LoadedTgmm& m, const Tensor& x, Generator& gen) {
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
  Estimate e = tgmm_estimator(*m.model).fit(points_batch(x.to(c.dtype), o.k), gen).at(0);
  if (e.ok) {
    e.weights = e.weights.to(DType::F64);
    e.means = e.means.to(DType::F64);
    if (e.scales.defined()) e.scales = e.scales.to(DType::F64);  // a diag model's
  }
  return e;
}

// The spectral method; with the spherical model, its shared variance for every component.
Estimate fit_spectral(const Options& o, const Tensor& x, Generator& gen) {
  Estimate e = spectral_estimator().fit(points_batch(x, o.k), gen).at(0);
  if (e.ok && o.covariance == Covariance::Spherical) {
    const double sigma = std::sqrt(std::max(spectral_moments(x).sigma2, kVarianceFloor));
    e.scales = full(e.means.shape(), sigma, DType::F64);
  }
  return e;
}

// The chosen method on the points x (N, d); `model` is the loaded checkpoint of --method tgmm.
Estimate fit(const Options& o, const Tensor& x, const tools::LoadedTgmm& model) {
  if (o.k > x.size(0)) {
    throw std::invalid_argument("--k " + std::to_string(o.k) + " exceeds the number of points (" +
                                std::to_string(x.size(0)) + ") in " + o.csv);
  }
  Generator gen(o.seed);
  if (o.method == "tgmm") return fit_tgmm(o, model, x, gen);
  if (o.method == "spectral") return fit_spectral(o, x, gen);
  EmOptions options = o.method == "em-paper" ? EmOptions::paper() : EmOptions::strong();
  options.covariance = o.covariance;
  return em_estimator(o.method, options).fit(points_batch(x, o.k), gen).at(0);
}

// A fit as printed: components in ascending weight, in the original units.
struct Report {
  std::vector<double> weights;              // (K)
  std::vector<std::vector<double>> means;   // (K, d)
  std::vector<std::vector<double>> scales;  // (K, d), when extended(); ones for the unit model
  std::vector<int64_t> assignments;         // (N) printed component of each point
  double log_likelihood = 0;
  int64_t iterations = 0;
  double fit_seconds = 0;
};

Report make_report(const Options& o, const Tensor& x, const Estimate& e, double fit_seconds) {
  const std::vector<double> w = e.weights.to_vector(), mu = e.means.to_vector();
  const std::vector<double> sigma =
      e.scales.defined() ? e.scales.to_vector() : std::vector<double>(mu.size(), 1.0);
  std::vector<size_t> order(w.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return w[a] < w[b]; });
  const auto d = static_cast<size_t>(x.size(1));
  Report r;
  r.log_likelihood = mixture_log_likelihood(x, e.weights, e.means, e.scales);
  r.iterations = e.iterations;
  r.fit_seconds = fit_seconds;
  std::vector<int64_t> printed_slot(w.size());  // fitted component -> printed position
  for (size_t i = 0; i < order.size(); ++i) {
    const size_t k = order[i];
    printed_slot[k] = static_cast<int64_t>(i);
    r.weights.push_back(w[k]);
    r.means.emplace_back(mu.begin() + k * d, mu.begin() + (k + 1) * d);
    if (o.extended()) r.scales.emplace_back(sigma.begin() + k * d, sigma.begin() + (k + 1) * d);
  }
  if (o.assignments) {
    const Tensor best = most_probable_component(x, e.weights, e.means, e.scales);  // (N) i64
    for (int64_t n = 0; n < best.size(0); ++n) {
      r.assignments.push_back(printed_slot[best.data<int64_t>()[n]]);
    }
  }
  return r;
}

void print_text(const Options& o, const Tensor& x, const Report& r) {
  std::printf("method: %s   K = %lld, N = %lld points, d = %lld\n", o.method.c_str(),
              static_cast<long long>(o.k), static_cast<long long>(x.size(0)),
              static_cast<long long>(x.size(1)));
  if (o.extended()) {
    std::printf("covariance: %s%s\n", covariance_name(o.covariance),
                o.standardize ? ", fitted to the standardized columns (reported in the original "
                                "units)"
                              : "");
  }
  std::printf("log-likelihood per point: %.6f\n", r.log_likelihood);
  std::printf("iterations: %lld\n", static_cast<long long>(r.iterations));
  if (o.extended()) std::printf("fit time: %.6f s\n", r.fit_seconds);
  std::printf("%-9s %-10s %s\n", "component", "weight", "mean");
  for (size_t k = 0; k < r.weights.size(); ++k) {
    std::printf("%-9zu %-10.6f", k, r.weights[k]);
    for (double m : r.means[k]) std::printf(" %10.5f", m);
    std::printf("\n");
  }
  if (!r.scales.empty()) {
    std::printf("%-9s %-10s %s\n", "component", "", "std per coordinate");
    for (size_t k = 0; k < r.scales.size(); ++k) {
      std::printf("%-9zu %-10s", k, "");
      for (double s : r.scales[k]) std::printf(" %10.5f", s);
      std::printf("\n");
    }
  }
  if (o.assignments) {
    std::printf("assignments:");
    for (int64_t a : r.assignments) std::printf(" %lld", static_cast<long long>(a));
    std::printf("\n");
  }
}

void print_json(const Options& o, const Report& r) {
  nlohmann::json j = {{"method", o.method},
                      {"weights", r.weights},
                      {"means", r.means},
                      {"log_likelihood", r.log_likelihood},
                      {"iterations", r.iterations}};
  if (o.extended()) {
    j["covariance"] = covariance_name(o.covariance);
    j["standardized"] = o.standardize;
    j["scales"] = r.scales;
    j["fit_seconds"] = r.fit_seconds;
  }
  if (o.assignments) j["assignments"] = r.assignments;
  std::printf("%s\n", j.dump().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "fit: estimate the weights and means (and variances) of a Gaussian mixture from a CSV of "
      "points, one point per row"};
  add_options(app, o);
  if (auto code = tools::cli::parse(app, argc, argv, "fit")) return *code;
  o.covariance_given = app.get_option("--covariance")->count() > 0;
  if (const std::string problem = options_problem(o); !problem.empty()) return fail(2, problem);
  try {
    const Tensor x = read_points_csv(o.csv);  // (N, d) f64
    const tools::LoadedTgmm model =
        o.method == "tgmm" ? tools::load_tgmm(o.checkpoint) : tools::LoadedTgmm();
    if (o.method == "tgmm") o.covariance = tgmm_covariance(o, model.config);
    const auto start = std::chrono::steady_clock::now();
    const Standardization st = o.standardize ? column_standardization(x) : Standardization();
    Estimate e = fit(o, o.standardize ? standardized(x, st) : x, model);
    if (!e.ok) return fail(1, o.method + " cannot fit these points: " + e.failure);
    if (o.standardize) e = in_original_units(e, st);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const Report r = make_report(o, x, e, seconds);
    if (o.json) {
      print_json(o, r);
    } else {
      print_text(o, x, r);
    }
    return 0;
  } catch (const std::exception& err) {
    return fail(2, err.what());
  }
}
