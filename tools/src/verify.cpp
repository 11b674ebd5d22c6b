// verify.cpp — tools/verify: run the hand-built transformers of docs/theory.md against the
// reference algorithms they claim to carry out, and print the errors and the sizes.
//
//   tools/verify [--d0 8] [--k0 5] [--steps 5] [--knots 800] [--tasks 4] [--power-steps 6]
//                [--normalized-steps 8] [--seed 0] [--threads T] [--json] [--plot FILE.png]
//
// EM (gmm/theory/construct_em.h). For each case (d, K, N) of a grid that includes padded cases
// (d < d0, K < K0): `tasks` tasks from the task prior (gmm/mixture/tasks.h); the start is pi
// uniform and mu = K distinct random points of the task; the construction (f64) and exact EM run
// `steps` steps from that start; per step, max over tasks and components of |mu_TF - mu_EM| and
// |pi_TF - pi_EM|. Then the same for one case as the knot count grows, and in f32.
// Power iteration (gmm/theory/construct_power.h). T = sum_k lambda_k u_k (x) u_k (x) u_k
// (orthonormal u_k, lambda_k in [1, 2]) plus 0.05 N(0, 1) noise in every entry; plain steps from a
// v scaled so that the iteration grows (max_k lambda_k |u_k . v| = 1.5); normalised steps from 8
// random unit starts (the worst counts). Per step |v_TF - v_ref| / |v_ref|, read from both the
// tokens' own coordinates and the copy of v; the normalised error against the PWL knot count; f32.
//
// --json prints one object: em.{max_mu_error, max_pi_error, cases, knots, f32, size, ...},
// power.{max_rel_error, cases (each with its size), f32}, power_normalized.{final_error, cases,
// knots, f32}, seconds. --plot FILE.png (or .svg) also draws docs/theory.md's error-vs-knots
// figure from that object with gnuplot (tools/lib/theory_plot.h). Default run: about 30 s on 2
// cores. Bad flags: one line on stderr, exit 2.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gmm/mixture/tasks.h"
#include "gmm/theory/construct_em.h"
#include "gmm/theory/construct_power.h"
#include "tools/lib/cli.h"
#include "tools/lib/theory_plot.h"

using namespace tg;
using namespace tg::gmm;
using json = nlohmann::json;

namespace {

struct Settings {
  int64_t d0 = 8, k0 = 5, steps = 5, knots = 800, tasks = 4;
  int64_t power_steps = 6, normalized_steps = 8;
  uint64_t seed = 0;
  bool json = false;
  std::string plot;  // draw the error-vs-knots figure into this .png or .svg file
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

json size_json(const ConstructionSize& s) {
  return {{"layers", s.layers},         {"heads", s.heads},           {"width", s.width},
          {"head_dim", s.max_head_dim}, {"mlp_hidden", s.mlp_hidden}, {"parameters", s.parameters}};
}

double max_abs(const Tensor& a, const Tensor& b) { return max_abs_diff(a, b); }

// ---------------------------------------------------------------- EM

struct EmCase {
  int64_t d, k, n;
};

// Per-step errors of `tf` against exact EM on `tasks` tasks of one case.
json run_em_case(const EmTransformer& tf, const EmCase& c, const Settings& s, uint64_t seed) {
  Generator gen(seed);
  TaskConfig config;
  config.d = c.d;
  config.ks = {c.k};
  config.tasks_per_k = s.tasks;
  config.n = c.n;
  config.dtype = DType::F64;
  const TaskBatch batch = sample_tasks(config, gen);
  // Start: uniform weights, means = K distinct random points of each task.
  const int64_t B = batch.batch_size();
  MixtureEstimate reference{full({B, c.k}, 1.0 / static_cast<double>(c.k), DType::F64),
                            zeros({B, c.k, c.d}, DType::F64)};
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int64_t> picked;
    while (static_cast<int64_t>(picked.size()) < c.k) {
      const int64_t i = gen.randint(0, c.n);
      if (std::find(picked.begin(), picked.end(), i) != picked.end()) continue;
      for (int64_t t = 0; t < c.d; ++t) {
        reference.means.data<double>()[(b * c.k + static_cast<int64_t>(picked.size())) * c.d + t] =
            batch.x.at({b, i, t});
      }
      picked.push_back(i);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  Tensor tokens = tf.embed(batch.x, reference);
  std::vector<double> mu_error, pi_error;
  for (int64_t step = 0; step < s.steps; ++step) {
    tokens = tf.step(tokens);
    reference = em_reference_step(batch.x, reference);
    const MixtureEstimate got = tf.read(tokens, c.d, c.k);
    mu_error.push_back(max_abs(got.means, reference.means));
    pi_error.push_back(max_abs(got.weights, reference.weights));
  }
  return {{"d", c.d},
          {"K", c.k},
          {"N", c.n},
          {"tasks", B},
          {"mu_error", mu_error},
          {"pi_error", pi_error},
          {"max_mu_error", *std::max_element(mu_error.begin(), mu_error.end())},
          {"max_pi_error", *std::max_element(pi_error.begin(), pi_error.end())},
          {"seconds", seconds_since(start)}};
}

json run_em(const Settings& s) {
  EmConstructionOptions options;
  options.d0 = s.d0;
  options.k0 = s.k0;
  options = options.with_knots(s.knots);
  const EmTransformer tf(options);
  std::vector<EmCase> grid;
  for (EmCase c : {EmCase{8, 4, 128}, EmCase{5, 4, 128}, EmCase{8, 5, 128}, EmCase{2, 2, 64},
                   EmCase{3, 5, 32}, EmCase{8, 2, 32}}) {
    c.d = std::min(c.d, s.d0);
    c.k = std::min(c.k, s.k0);
    grid.push_back(c);
  }
  json out;
  out["d0"] = s.d0;
  out["k0"] = s.k0;
  out["steps"] = s.steps;
  out["log_knots"] = options.log_knots;
  out["square_knots"] = options.square_knots;
  out["log_spacing"] = options.log_spacing == LogKnots::Sqrt ? "sqrt" : "geometric";
  out["log_floor"] = options.log_floor;
  out["square_range"] = options.square_range;
  out["score_gap"] = options.score_gap;
  out["size"] = size_json(tf.size(s.steps));
  out["size"]["mlp_hidden_e"] = tf.block_e().mlp().options().hidden;
  out["size"]["mlp_hidden_m"] = tf.block_m().mlp().options().hidden;
  double worst_mu = 0.0, worst_pi = 0.0;
  for (size_t i = 0; i < grid.size(); ++i) {
    json r = run_em_case(tf, grid[i], s, s.seed + i);
    worst_mu = std::max(worst_mu, r["max_mu_error"].get<double>());
    worst_pi = std::max(worst_pi, r["max_pi_error"].get<double>());
    out["cases"].push_back(r);
  }
  out["max_mu_error"] = worst_mu;
  out["max_pi_error"] = worst_pi;
  // The error as the knot count grows, on the first case, for both spacings of the log knots.
  for (LogKnots spacing : {LogKnots::Sqrt, LogKnots::Geometric}) {
    for (int64_t knots : {25, 50, 100, 200, 400, 800, 1600}) {
      EmConstructionOptions o = options.with_knots(knots);
      o.log_spacing = spacing;
      const EmTransformer swept(o);
      json r = run_em_case(swept, grid[0], s, s.seed);
      out["knots"].push_back({{"knots", knots},
                              {"log_spacing", spacing == LogKnots::Sqrt ? "sqrt" : "geometric"},
                              {"mlp_hidden", swept.size(s.steps).mlp_hidden},
                              {"max_mu_error", r["max_mu_error"]},
                              {"max_pi_error", r["max_pi_error"]}});
    }
  }
  // f32, on the first case.
  EmConstructionOptions o32 = options;
  o32.dtype = DType::F32;
  const EmTransformer tf32(o32);
  json r32 = run_em_case(tf32, grid[0], s, s.seed);
  out["f32"] = {{"d", grid[0].d},
                {"K", grid[0].k},
                {"N", grid[0].n},
                {"mu_error", r32["mu_error"]},
                {"pi_error", r32["pi_error"]},
                {"max_mu_error", r32["max_mu_error"]},
                {"max_pi_error", r32["max_pi_error"]}};
  return out;
}

// ---------------------------------------------------------------- power iteration

// (1, d, d, d): sum_k lambda_k u_k^(x)3 + noise, and the u_k, lambda_k.
struct TestTensor {
  Tensor t;  // (1, d, d, d)
  std::vector<std::vector<double>> u;
  std::vector<double> lambda;
};

TestTensor make_tensor(int64_t d, Generator& gen, double noise) {
  TestTensor out;
  for (int64_t k = 0; k < d; ++k) {  // Gram-Schmidt on Gaussian vectors
    std::vector<double> v(static_cast<size_t>(d));
    for (double& x : v) x = gen.normal();
    for (const auto& prev : out.u) {
      double dot = 0.0;
      for (int64_t i = 0; i < d; ++i) dot += v[i] * prev[i];
      for (int64_t i = 0; i < d; ++i) v[i] -= dot * prev[i];
    }
    double norm = 0.0;
    for (double x : v) norm += x * x;
    for (double& x : v) x /= std::sqrt(norm);
    out.u.push_back(v);
    out.lambda.push_back(gen.uniform(1.0, 2.0));
  }
  out.t = zeros({1, d, d, d}, DType::F64);
  double* p = out.t.data<double>();
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      for (int64_t m = 0; m < d; ++m) {
        double value = noise * gen.normal();
        for (int64_t k = 0; k < d; ++k)
          value += out.lambda[k] * out.u[k][i] * out.u[k][j] * out.u[k][m];
        p[(i * d + j) * d + m] = value;
      }
    }
  }
  return out;
}

double relative_error(const Tensor& got, const Tensor& want) {
  double diff = 0.0, norm = 0.0;
  const std::vector<double> g = got.to_vector(), w = want.to_vector();
  for (size_t i = 0; i < g.size(); ++i) {
    diff += (g[i] - w[i]) * (g[i] - w[i]);
    norm += w[i] * w[i];
  }
  return std::sqrt(diff / norm);
}

// Per-step relative errors of `steps` plain (normalized = false) or normalised steps from each
// start v0 (S, d), worst over the starts; both read-outs (own coordinates, the copy) count.
std::vector<double> run_power(const PowerTransformer& tf, const TestTensor& tt, const Tensor& v0,
                              int64_t steps, bool normalized) {
  const int64_t d = tf.layout().d, S = v0.size(0);
  const Tensor t = tt.t.reshape({d, d, d});
  Tensor tokens = tf.embed(tt.t.expand({S, d, d, d}).contiguous(), v0);
  std::vector<Tensor> v;
  for (int64_t b = 0; b < S; ++b) v.push_back(v0.select(0, b).contiguous());
  std::vector<double> errors;
  for (int64_t step = 0; step < steps; ++step) {
    tokens = normalized ? tf.normalized_step(tokens) : tf.step(tokens);
    const Tensor got = tf.read(tokens), copy = tf.read_copy(tokens);  // (S, d)
    double error = 0.0;
    for (int64_t b = 0; b < S; ++b) {
      v[b] = normalized ? power_reference_normalized_step(t, v[b]) : power_reference_step(t, v[b]);
      error = std::max(
          {error, relative_error(got.select(0, b), v[b]), relative_error(copy.select(0, b), v[b])});
    }
    errors.push_back(error);
  }
  return errors;
}

// v for the plain steps: a random direction scaled so that max_k lambda_k |u_k . v| = 1.5.
Tensor growing_start(const TestTensor& tt, Generator& gen) {
  const int64_t d = static_cast<int64_t>(tt.u.size());
  std::vector<double> v(static_cast<size_t>(d));
  for (double& x : v) x = gen.normal();
  double top = 0.0;
  for (int64_t k = 0; k < d; ++k) {
    double dot = 0.0;
    for (int64_t i = 0; i < d; ++i) dot += tt.u[k][i] * v[i];
    top = std::max(top, tt.lambda[k] * std::abs(dot));
  }
  for (double& x : v) x *= 1.5 / top;
  return from_vector(v, {1, d}, DType::F64);
}

// `count` random unit vectors (count, d).
Tensor unit_starts(int64_t count, int64_t d, Generator& gen) {
  std::vector<double> v(static_cast<size_t>(count * d));
  for (int64_t b = 0; b < count; ++b) {
    double norm = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      v[b * d + i] = gen.normal();
      norm += v[b * d + i] * v[b * d + i];
    }
    for (int64_t i = 0; i < d; ++i) v[b * d + i] /= std::sqrt(norm);
  }
  return from_vector(v, {count, d}, DType::F64);
}

double back(const std::vector<double>& v) { return v.back(); }
double worst(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

constexpr int64_t kStarts = 8;  // random unit starts of the normalised iteration

std::pair<json, json> run_power_all(const Settings& s) {
  json plain, normalized;
  double worst_plain = 0.0, worst_final = 0.0;
  const std::vector<int64_t> ds = {2, 3, 5, 8};
  for (size_t c = 0; c < ds.size(); ++c) {
    const int64_t d = ds[c];
    Generator gen(s.seed + 100 + c);
    const TestTensor tt = make_tensor(d, gen, 0.05);
    const Tensor v_plain = growing_start(tt, gen), v_unit = unit_starts(kStarts, d, gen);
    for (PowerHeads heads : {PowerHeads::Signed, PowerHeads::Shifted}) {
      PowerConstructionOptions o;
      o.d = d;
      o.heads = heads;
      const PowerTransformer tf(o);
      const char* name = heads == PowerHeads::Signed ? "signed" : "shifted";
      if (heads == PowerHeads::Signed) {  // Shifted needs |v_m v_j| <= C: normalised only
        const std::vector<double> e = run_power(tf, tt, v_plain, s.power_steps, false);
        worst_plain = std::max(worst_plain, worst(e));
        plain["cases"].push_back({{"d", d},
                                  {"heads", name},
                                  {"rel_error", e},
                                  {"max_rel_error", worst(e)},
                                  {"size", size_json(tf.plain_size(1))}});
      }
      const std::vector<double> e = run_power(tf, tt, v_unit, s.normalized_steps, true);
      worst_final = std::max(worst_final, back(e));
      normalized["cases"].push_back({{"d", d},
                                     {"heads", name},
                                     {"rel_error", e},
                                     {"final_error", back(e)},
                                     {"size", size_json(tf.normalized_size(1))}});
    }
  }
  plain["max_rel_error"] = worst_plain;
  normalized["final_error"] = worst_final;
  // Normalised error against the knots of PWL(s^-1/2), and f32, on d = 5.
  Generator gen(s.seed + 100 + 2);
  const TestTensor tt = make_tensor(5, gen, 0.05);
  const Tensor v_plain = growing_start(tt, gen), v_unit = unit_starts(kStarts, 5, gen);
  for (int64_t knots : {25, 50, 100, 200, 400, 800, 1600, 3200, 6400}) {
    PowerConstructionOptions o;
    o.d = 5;
    o.isqrt_knots = knots;
    const PowerTransformer tf(o);
    normalized["knots"].push_back(
        {{"knots", knots},
         {"final_error", back(run_power(tf, tt, v_unit, s.normalized_steps, true))}});
  }
  PowerConstructionOptions o32;
  o32.d = 5;
  o32.dtype = DType::F32;
  const PowerTransformer tf32(o32);
  plain["f32"] = {{"d", 5}, {"rel_error", run_power(tf32, tt, v_plain, s.power_steps, false)}};
  normalized["f32"] = {{"d", 5},
                       {"rel_error", run_power(tf32, tt, v_unit, s.normalized_steps, true)}};
  return {plain, normalized};
}

// ---------------------------------------------------------------- printing

std::string fmt(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2e", x);
  return buffer;
}

std::string row(const json& values) {
  std::string out;
  for (const auto& v : values) out += " " + fmt(v.get<double>());
  return out;
}

void print_size(std::ostream& os, const std::string& name, const json& s) {
  os << name << ": " << s["layers"] << " layers, " << s["heads"]
     << " heads, width D = " << s["width"] << ", head dim " << s["head_dim"] << ", MLP hidden "
     << s["mlp_hidden"] << ", " << s["parameters"] << " parameters\n";
}

void print_text(std::ostream& os, const json& r) {
  const json& em = r["em"];
  os << "== EM construction (f64): d0 = " << em["d0"] << ", K0 = " << em["k0"] << ", "
     << em["steps"] << " steps, knots: log " << em["log_knots"] << " ("
     << em["log_spacing"].get<std::string>() << "), square " << em["square_knots"] << " ==\n";
  print_size(os, "size", em["size"]);
  os << "  MLP hidden: Block E " << em["size"]["mlp_hidden_e"] << ", Block M "
     << em["size"]["mlp_hidden_m"] << "\n";
  os << "  d  K    N  tasks | max |mu_TF - mu_EM| per step            | max |pi_TF - pi_EM| per "
        "step\n";
  for (const auto& c : em["cases"]) {
    char head[64];
    std::snprintf(head, sizeof head, "%3lld %2lld %4lld %6lld |", c["d"].get<long long>(),
                  c["K"].get<long long>(), c["N"].get<long long>(), c["tasks"].get<long long>());
    os << head << row(c["mu_error"]) << " |" << row(c["pi_error"]) << "\n";
  }
  os << "worst over the grid and steps: mu " << fmt(em["max_mu_error"].get<double>()) << ", pi "
     << fmt(em["max_pi_error"].get<double>()) << "\n";
  os << "error vs knots (d = " << em["cases"][0]["d"] << ", K = " << em["cases"][0]["K"]
     << ", N = " << em["cases"][0]["N"]
     << ", worst step):\n  log knots  knots  MLP hidden  mu error  pi error\n";
  for (const auto& k : em["knots"]) {
    char line[128];
    std::snprintf(line, sizeof line, "  %9s  %5lld  %10lld  %s  %s\n",
                  k["log_spacing"].get<std::string>().c_str(), k["knots"].get<long long>(),
                  k["mlp_hidden"].get<long long>(), fmt(k["max_mu_error"].get<double>()).c_str(),
                  fmt(k["max_pi_error"].get<double>()).c_str());
    os << line;
  }
  os << "f32 (same case): mu per step" << row(em["f32"]["mu_error"]) << "; pi per step"
     << row(em["f32"]["pi_error"]) << "\n\n";

  const json& p = r["power"];
  os << "== Tensor power iteration, plain step v <- T(I,v,v) (f64), relative error per step ==\n";
  for (const auto& c : p["cases"]) {
    os << "  d = " << c["d"] << " (" << c["heads"].get<std::string>()
       << " heads):" << row(c["rel_error"]) << "\n";
    print_size(os, "    one step", c["size"]);
  }
  os << "worst: " << fmt(p["max_rel_error"].get<double>())
     << "; f32 (d = 5):" << row(p["f32"]["rel_error"]) << "\n\n";
  const json& q = r["power_normalized"];
  os << "== Normalised step v <- T(I,v,v)/|T(I,v,v)| (f64), relative error per step ==\n";
  for (const auto& c : q["cases"]) {
    os << "  d = " << c["d"] << " (" << c["heads"].get<std::string>()
       << " heads):" << row(c["rel_error"]) << "\n";
    print_size(os, "    one step", c["size"]);
  }
  os << "worst final: " << fmt(q["final_error"].get<double>())
     << "; f32 (d = 5):" << row(q["f32"]["rel_error"]) << "\n";
  os << "final error vs knots of PWL(s^-1/2) (d = 5):";
  for (const auto& k : q["knots"]) {
    os << " " << k["knots"] << ":" << fmt(k["final_error"].get<double>());
  }
  os << "\n";
}

// The command line into `s` and `threads`.
void add_options(CLI::App& app, Settings& s, int& threads) {
  namespace cli = tools::cli;
  cli::configure(app);
  cli::add_number(app, "--d0", s.d0, "padded dimension of the EM construction")
      ->check(cli::range(2, 64));
  cli::add_number(app, "--k0", s.k0, "padded component count")->check(cli::range(2, 16));
  cli::add_number(app, "--steps", s.steps, "EM steps")->check(cli::range(1, 100));
  cli::add_number(app, "--knots", s.knots, "knots of the EM construction's PWL log and square")
      ->check(cli::range(2, 100000));
  cli::add_number(app, "--tasks", s.tasks, "tasks per EM case")->check(cli::range(1, 1000));
  cli::add_number(app, "--power-steps", s.power_steps, "plain power steps")
      ->check(cli::range(1, 7));
  cli::add_number(app, "--normalized-steps", s.normalized_steps, "normalised power steps")
      ->check(cli::range(1, 1000));
  cli::add_number(app, "--seed", s.seed, "random seed");
  cli::add_number(app, "--threads", threads, "threads (0: all cores)")
      ->check(cli::at_least(0, false, "NONNEGATIVE"));
  app.add_flag("--json", s.json, "print one JSON object on stdout");
  app.add_option("--plot", s.plot, "also draw the error-vs-knots figure into FILE (.png or .svg)")
      ->check([](const std::string& file) {
        const std::string extension = std::filesystem::path(file).extension().string();
        return extension == ".png" || extension == ".svg" ? "" : "FILE must end in .png or .svg";
      });
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  int threads = 0;
  CLI::App app{"verify: the hand-built EM and tensor-power transformers against the references"};
  add_options(app, s, threads);
  if (auto code = tools::cli::parse(app, argc, argv, "verify")) return *code;
  try {
    if (threads > 0) set_num_threads(threads);
    const auto start = std::chrono::steady_clock::now();
    json result;
    result["em"] = run_em(s);
    result["em"]["seconds"] = seconds_since(start);
    const auto power_start = std::chrono::steady_clock::now();
    auto [plain, normalized] = run_power_all(s);
    plain["seconds"] = seconds_since(power_start);
    result["power"] = plain;
    result["power_normalized"] = normalized;
    result["seconds"] = seconds_since(start);
    if (s.json) {
      std::cout << result.dump(1) << "\n";
    } else {
      print_text(std::cout, result);
      std::cout << "(" << fmt(result["seconds"].get<double>()) << " s)\n";
    }
    if (!s.plot.empty()) tg::tools::write_theory_plot(result, s.plot);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "verify: %s\n", e.what());
    return 2;
  }
}
