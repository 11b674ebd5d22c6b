// training_plots.cpp — loss.{png,svg} and error_vs_step.{png,svg} of a run (see training_plots.h).
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

// The dash pattern of a baseline's line (gnuplot `dt`: dash and gap lengths).
std::string method_dash(const std::string& method) {
  if (method == "em-paper") return "(20,6)";  // long
  if (method == "em-strong") return "(8,8)";  // short
  if (method == "spectral") return "(2,6)";   // dotted
  return "(8,3,1,3)";                         // dash-dot: any other method
}

// The raw loss: the smoothed loss's colour (palette_color(0)) moved 70% toward white, so the
// smoothed curve stands out in front of it.
const std::string kRawLossColor = "#bcd6e8";

// Whether (x, y) has a point gnuplot can draw: both finite, and y > 0 on a log axis.
bool drawable(const std::vector<double>& x, const std::vector<double>& y, bool log_y) {
  for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
    if (std::isfinite(x[i]) && std::isfinite(y[i]) && (!log_y || y[i] > 0)) return true;
  }
  return false;
}

// A figure's first commands: a clean state, title, axis labels, grid, log y.
std::string axes(const std::string& title, const std::string& x_label, const std::string& y_label,
                 bool log_y) {
  return "reset\nset title " + gnuplot_quote(title) + "\nset xlabel " + gnuplot_quote(x_label) +
         "\nset ylabel " + gnuplot_quote(y_label) + "\nset grid\n" +
         (log_y ? "set logscale y\n" : "");
}

// A log y axis fitted to the positive values (gnuplot's autoscale would widen it to whole
// decades), with labels at 1, 2 and 5 times each power of ten while the values span at most three
// decades (gnuplot labels only the powers). Empty when no value is positive.
std::string log_y_range(const std::vector<double>& values) {
  double lo = INFINITY, hi = 0;
  for (double v : values) {
    if (std::isfinite(v) && v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  if (hi == 0) return "";
  std::string command =
      "set yrange [" + gnuplot_number(lo / 1.2) + ":" + gnuplot_number(hi * 1.2) + "]\n";
  if (hi / lo > 1e3) return command;
  command += "set ytics add (";
  for (int power = static_cast<int>(std::floor(std::log10(lo))); std::pow(10.0, power) <= hi * 1.2;
       ++power) {
    for (double digit : {2.0, 5.0}) {
      const double tick = digit * std::pow(10.0, power);
      command += gnuplot_quote(gnuplot_number(tick)) + " " + gnuplot_number(tick) + ", ";
    }
  }
  command.resize(command.size() - 2);
  return command + ")\n";
}

// `plot` of the elements, or — when none has a point to draw, which gnuplot refuses as an
// error — empty axes saying "no data yet".
std::string plot_command(const std::vector<std::string>& elements, bool any_point, bool log_y) {
  if (elements.empty() || !any_point) {
    return std::string("set xrange [0:1]\nset yrange [") + (log_y ? "0.1" : "0") +
           ":1]\nset label 'no data yet' at graph 0.5, 0.5 center\nplot NaN notitle\n";
  }
  std::string command = "plot ";
  for (size_t i = 0; i < elements.size(); ++i) {
    command += (i ? ", \\\n     " : "") + elements[i];
  }
  return command + "\n";
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

GnuplotFigure loss_figure(const TrainingLog& log) {
  const bool log_y =
      !log.loss.empty() && std::all_of(log.loss.begin(), log.loss.end(),
                                       [](double v) { return !std::isfinite(v) || v > 0; });
  const double span = std::max(1.0, static_cast<double>(log.loss.size()) / 40.0);
  const std::vector<double> mean = smooth(log.mean_loss, span),
                            weight = smooth(log.weight_loss, span), total = smooth(log.loss, span);
  GnuplotFigure f;
  std::string& tsv = f.data["loss.tsv"];
  tsv = "# step\tloss\tmean part (smoothed)\tweight part (smoothed)\tloss (smoothed)\n";
  for (size_t i = 0; i < log.steps.size(); ++i) {
    tsv += gnuplot_number(log.steps[i]) + "\t" + gnuplot_number(log.loss[i]) + "\t" +
           gnuplot_number(mean[i]) + "\t" + gnuplot_number(weight[i]) + "\t" +
           gnuplot_number(total[i]) + "\n";
  }
  auto series = [](int column, const std::string& style, const std::string& title) {
    return "'loss.tsv' using 1:" + std::to_string(column) + " with lines " + style + " title " +
           gnuplot_quote(title);
  };
  const std::vector<std::string> plots = {
      series(2, "lw 1 lc rgb '" + kRawLossColor + "'", "loss (raw)"),
      series(3, "lw 2 dt (8,4) lc rgb '" + palette_color(1) + "'", "mean part"),
      series(4, "lw 2 dt (8,4) lc rgb '" + palette_color(2) + "'", "weight part"),
      series(5, "lw 3 lc rgb '" + palette_color(0) + "'", "loss (smoothed)")};
  std::vector<double> all = log.loss;
  for (const auto* part : {&mean, &weight, &total})
    all.insert(all.end(), part->begin(), part->end());
  f.commands = axes("training loss - " + log.name, "step", "loss", log_y) +
               (log_y ? log_y_range(all) : "") + "set key top right\n" +
               plot_command(plots, drawable(log.steps, log.loss, log_y), log_y);
  return f;
}

GnuplotFigure error_vs_step_figure(const TrainingLog& log) {
  GnuplotFigure f;
  std::string& tsv = f.data["error_vs_step.tsv"];
  if (log.evaluations.empty() || log.evaluations.front().records.empty()) {
    f.commands = axes("TGMM l2-error - no evaluation yet", "step", "l2-error", true) +
                 plot_command({}, false, true);
    return f;
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
  std::vector<std::string> plots;
  std::vector<double> drawn;  // every value plotted, for the y range
  size_t block = 0;           // the K's data block in the file, and its colour
  for (const auto& [k, xy] : curves) {
    const std::string color = palette_color(block);
    const std::string tgmm = "TGMM K=" + std::to_string(k);
    tsv += "# " + tgmm + " at N=" + std::to_string(n) + ": step, l2-error\n";
    for (size_t i = 0; i < xy.first.size(); ++i) {
      tsv += gnuplot_number(xy.first[i]) + "\t" + gnuplot_number(xy.second[i]) + "\n";
    }
    const bool markers = xy.first.size() <= 40;  // more would merge into a thick line
    plots.push_back("'error_vs_step.tsv' index " + std::to_string(block++) + " using 1:2 with " +
                    (markers ? "linespoints pt 7 ps 0.8" : "lines") + " lw 2 lc rgb '" + color +
                    "' title " + gnuplot_quote(tgmm));
    tsv += "\n\n";  // two blank lines end a block (gnuplot's `index`)
    drawn.insert(drawn.end(), xy.second.begin(), xy.second.end());
    for (const auto& b : log.baselines) {
      const double error = l2_error(b);
      if (b.value("K", int64_t{0}) != k || b.value("N", int64_t{-1}) != n ||
          !(std::isfinite(error) && error > 0)) {
        continue;
      }
      const std::string method = b.value("method", "");
      plots.push_back(gnuplot_number(error) + " with lines lw 1.5 dt " + method_dash(method) +
                      " lc rgb '" + color + "' title " +
                      gnuplot_quote(method + " K=" + std::to_string(k)));
      drawn.push_back(error);
    }
  }
  const std::string y_range = log_y_range(drawn);  // empty: no point to draw
  f.commands = axes("TGMM l2-error at N=" + std::to_string(n) +
                        ", d=" + std::to_string(first.value("d", 0)) + " - " + log.name,
                    "step", "l2-error", true) +
               y_range + "set key outside right top\n" +
               plot_command(plots, !y_range.empty(), true);
  return f;
}

GnuplotJob training_plots_job(const TrainingLog& log, const std::string& run_dir) {
  const fs::path dir(run_dir);
  GnuplotJob job;
  add_figure(job, loss_figure(log), {(dir / "loss.png").string(), (dir / "loss.svg").string()});
  if (!log.evaluations.empty()) {
    add_figure(job, error_vs_step_figure(log),
               {(dir / "error_vs_step.png").string(), (dir / "error_vs_step.svg").string()});
  }
  return job;
}

void TrainingPlotter::write(const std::string& run_dir) {
  if (find_program(gnuplot_).empty()) {
    if (reported_missing_) return;
    reported_missing_ = true;
    throw GnuplotMissing("skipped: " + gnuplot_ +
                         " is not on PATH (Debian package gnuplot-nox); training goes on");
  }
  run_gnuplot(training_plots_job(read_training_log(run_dir), run_dir), gnuplot_);
}

void write_training_plots(const std::string& run_dir) {
  static TrainingPlotter plotter;
  plotter.write(run_dir);
}

}  // namespace tg::tools
