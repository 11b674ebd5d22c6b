// training_plots.h — the plots of a training run, drawn by gnuplot from the run's logs.
//
// Reads DIR/train.jsonl (gmm/tgmm/trainer.h: one object per step {"step", "loss", "weight_loss",
// "mean_loss", ...} and one per evaluation {"type": "eval", "step", "records": [...]}) and, when
// present, DIR/eval.json (the final records, harness JSON keys, gmm/mixture/evaluate.h), and writes
// each figure as a PNG (900 x 600) and an SVG of the same drawing:
//   DIR/loss.{png,svg}            training loss vs step: raw (light) and smoothed, with the
//                                 smoothed mean and weight parts; log y when every loss is
//                                 positive;
//   DIR/error_vs_step.{png,svg}   TGMM's l2-error vs step (log y), one series "TGMM K=k" per K at
//                                 the first evaluation N (with a marker per evaluation while there
//                                 are at most 40), and each baseline's l2-error at that (K, N) as a
//                                 horizontal line "<method> K=k" in the K's colour, one dash style
//                                 per method. Written once the log has an evaluation.
// Baseline records (any method other than "tgmm") are taken from eval.json, then from the log's
// evaluation lines and lines {"type": "baselines", "records": [...]}, a later record of the same
// (method, K, N) replacing an earlier one — so a fresh log wins over a stale eval.json. Malformed
// lines (a torn last line) are skipped. A log axis spans the values drawn with a small margin
// (labelled at 1, 2 and 5 per decade when they span at most three). Values that cannot be drawn
// (null, or not positive on a log axis) are gaps in their line; a figure with no point to draw at
// all says "no data yet".
//
// gnuplot (tools/lib/gnuplot.h) draws all four images in one run and each is published
// atomically; nothing else is left in DIR. It must be on PATH (Debian: gnuplot-nox); without it
// the plots are skipped, which the plotter reports once.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/lib/gnuplot.h"

namespace tg::tools {

struct TrainingLog {
  std::string name;  // the run directory's name, for titles
  std::vector<double> steps, loss, weight_loss, mean_loss;
  struct Evaluation {
    int64_t step = 0;
    nlohmann::json records;  // TGMM's records at this step (harness JSON)
  };
  std::vector<Evaluation> evaluations;
  nlohmann::json baselines = nlohmann::json::array();  // records of the other methods
};

// Throws std::runtime_error when DIR/train.jsonl cannot be read.
TrainingLog read_training_log(const std::string& run_dir);

// Exponential moving average with bias correction (starts at the first value), window ~ `span`.
std::vector<double> smooth(const std::vector<double>& values, double span);

// The figures (data file loss.tsv: step, raw loss, smoothed mean part, smoothed weight part,
// smoothed loss; error_vs_step.tsv: one block per K of step and l2-error).
GnuplotFigure loss_figure(const TrainingLog& log);
GnuplotFigure error_vs_step_figure(const TrainingLog& log);
// Both figures of DIR as one gnuplot job (the error figure only after an evaluation).
GnuplotJob training_plots_job(const TrainingLog& log, const std::string& run_dir);

// Draws the plots of run directories, reporting a missing gnuplot once.
class TrainingPlotter {
 public:
  explicit TrainingPlotter(std::string gnuplot = "gnuplot") : gnuplot_(std::move(gnuplot)) {}
  // Writes the plots of DIR. Throws std::runtime_error (one line, naming the file or quoting
  // gnuplot) when a log cannot be read or gnuplot fails; a caller inside a training loop should
  // catch it, print it and carry on. When `gnuplot` cannot be found, the first call throws
  // GnuplotMissing ("skipped: ...") and later calls return without drawing, until it is found.
  void write(const std::string& run_dir);

 private:
  std::string gnuplot_;  // program name (looked up on PATH) or path
  bool reported_missing_ = false;
};

// TrainingPlotter::write through one plotter for the whole process (a training run), so a
// missing gnuplot is reported once per run, not at every evaluation.
void write_training_plots(const std::string& run_dir);

}  // namespace tg::tools
