// training_plots.cpp — loss.png and error_vs_step.png of a run (see training_plots.h).
#include "tools/lib/training_plots.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

namespace tg::tools {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

double number_or_nan(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : NAN;
}

// Add `records` to the baselines, replacing any earlier record of the same (method, K, N).
void merge_baselines(json& baselines, const json& records) {
  if (!records.is_array()) return;
  for (const auto& r : records) {
    if (!r.is_object() || r.value("method", "") == "tgmm") continue;
    auto same = [&](const json& b) {
      return b.value("method", "") == r.value("method", "") &&
             b.value("K", -1) == r.value("K", -1) && b.value("N", -1) == r.value("N", -1);
    };
    baselines.erase(std::remove_if(baselines.begin(), baselines.end(), same), baselines.end());
    baselines.push_back(r);
  }
}

json tgmm_records(const json& records) {
  json out = json::array();
  if (!records.is_array()) return out;
  for (const auto& r : records) {
    if (r.is_object() && r.value("method", "") == "tgmm") out.push_back(r);
  }
  return out;
}

void read_line(TrainingLog& log, const json& j) {
  if (!j.is_object()) return;
  const std::string type = j.value("type", "");
  if (type == "eval") {
    log.evaluations.push_back(
        {j.value("step", int64_t{0}), tgmm_records(j.value("records", json()))});
    merge_baselines(log.baselines, j.value("records", json()));
  } else if (type == "baselines") {
    merge_baselines(log.baselines, j.value("records", json()));
  } else if (type.empty() && j.contains("step") && j.contains("loss")) {
    log.steps.push_back(number_or_nan(j, "step"));
    log.loss.push_back(number_or_nan(j, "loss"));
    log.weight_loss.push_back(number_or_nan(j, "weight_loss"));
    log.mean_loss.push_back(number_or_nan(j, "mean_loss"));
  }
}

// The l2-error of a record, NaN when null (every task failed) or absent.
double l2_error(const json& record) { return number_or_nan(record, "l2_error"); }

Dash method_dash(const std::string& method) {
  if (method == "em-paper") return Dash::Long;
  if (method == "em-strong") return Dash::Short;
  if (method == "spectral") return Dash::Dotted;
  return Dash::Solid;
}

// The run directory's name ("runs/x/" and "runs/x" both give "x").
std::string run_name(const fs::path& dir) {
  const fs::path path = fs::absolute(dir).lexically_normal();
  return path.has_filename() ? path.filename().string() : path.parent_path().filename().string();
}

}  // namespace

TrainingLog read_training_log(const std::string& run_dir) {
  const fs::path dir(run_dir);
  TrainingLog log;
  log.name = run_name(dir);
  // eval.json first, so that the log (rewritten by every fresh run) wins over a stale one.
  if (std::ifstream eval(dir / "eval.json"); eval) {
    try {
      merge_baselines(log.baselines, json::parse(eval));
    } catch (const json::exception&) {
      // not JSON (or cut short): the log's records still count
    }
  }
  std::ifstream in(dir / "train.jsonl");
  if (!in) {
    throw std::runtime_error("training plots: cannot read " + (dir / "train.jsonl").string());
  }
  for (std::string line; std::getline(in, line);) {
    try {
      read_line(log, json::parse(line));
    } catch (const json::exception&) {
      // a torn or foreign line: skip it
    }
  }
  return log;
}

std::vector<double> smooth(const std::vector<double>& values, double span) {
  const double beta = 1.0 - 1.0 / std::max(span, 1.0);
  std::vector<double> out(values.size(), NAN);
  double average = 0, weight = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) continue;  // a gap stays a gap and does not poison the rest
    average = beta * average + (1 - beta) * values[i];
    weight = beta * weight + (1 - beta);
    out[i] = average / weight;
  }
  return out;
}

Plot loss_plot(const TrainingLog& log) {
  Plot p;
  p.title = "training loss - " + log.name;
  p.x_label = "step";
  p.y_label = "loss";
  p.log_y = !log.loss.empty() && std::all_of(log.loss.begin(), log.loss.end(),
                                             [](double v) { return !std::isfinite(v) || v > 0; });
  const double span = std::max(1.0, static_cast<double>(log.loss.size()) / 40.0);
  const Rgb total = palette_color(0);
  p.series.push_back({"loss (raw)", log.steps, log.loss, lighten(total, 0.7), 1});
  p.series.push_back(
      {"mean part", log.steps, smooth(log.mean_loss, span), palette_color(1), 2, Dash::Short});
  p.series.push_back(
      {"weight part", log.steps, smooth(log.weight_loss, span), palette_color(2), 2, Dash::Short});
  p.series.push_back({"loss (smoothed)", log.steps, smooth(log.loss, span), total, 3});
  return p;
}

Plot error_vs_step_plot(const TrainingLog& log) {
  Plot p;
  p.x_label = "step";
  p.y_label = "l2-error";
  p.log_y = true;
  if (log.evaluations.empty() || log.evaluations.front().records.empty()) {
    p.title = "TGMM l2-error - no evaluation yet";
    return p;
  }
  const json& first = log.evaluations.front().records.front();
  const int64_t n = first.value("N", int64_t{0});
  // K -> (steps, errors), in ascending K.
  std::map<int64_t, std::pair<std::vector<double>, std::vector<double>>> curves;
  for (const auto& e : log.evaluations) {
    for (const auto& r : e.records) {
      if (r.value("N", int64_t{-1}) != n) continue;
      auto& [x, y] = curves[r.value("K", int64_t{0})];
      x.push_back(static_cast<double>(e.step));
      y.push_back(l2_error(r));
    }
  }
  p.title = "TGMM l2-error at N=" + std::to_string(n) +
            ", d=" + std::to_string(first.value("d", 0)) + " - " + log.name;
  std::map<int64_t, Rgb> colour;
  for (const auto& [k, xy] : curves) {
    colour[k] = palette_color(colour.size());
    const bool markers = xy.first.size() <= 40;  // more would merge into a thick line
    p.series.push_back(
        {"TGMM K=" + std::to_string(k), xy.first, xy.second, colour[k], 2, Dash::Solid, markers});
  }
  std::vector<std::string> methods;
  for (const auto& b : log.baselines) {
    const int64_t k = b.value("K", int64_t{0});
    const std::string method = b.value("method", "");
    if (b.value("N", int64_t{-1}) != n || !colour.count(k) || !std::isfinite(l2_error(b))) continue;
    p.ref_lines.push_back({l2_error(b), colour[k], method_dash(method), method});
    if (std::find(methods.begin(), methods.end(), method) == methods.end())
      methods.push_back(method);
  }
  for (const auto& m : methods) p.legend.push_back({m, {90, 90, 90}, method_dash(m)});
  p.legend_above = true;  // the baselines cross the whole plot: no corner is free
  return p;
}

void write_training_plots(const std::string& run_dir) {
  const TrainingLog log = read_training_log(run_dir);
  const fs::path dir(run_dir);
  write_plot((dir / "loss.png").string(), loss_plot(log));
  if (!log.evaluations.empty()) {
    write_plot((dir / "error_vs_step.png").string(), error_vs_step_plot(log));
  }
}

}  // namespace tg::tools
