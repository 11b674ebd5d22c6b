// training_plots.h — the PNG plots of a training run, drawn from its logs.
//
// Reads DIR/train.jsonl (gmm/tgmm/trainer.h: one object per step {"step", "loss", "weight_loss",
// "mean_loss", ...} and one per evaluation {"type": "eval", "step", "records": [...]}) and, when
// present, DIR/eval.json (the final records, harness JSON keys, gmm/mixture/evaluate.h), and writes
//   DIR/loss.png            training loss vs step: raw (light) and smoothed, with the smoothed
//                           mean and weight parts; log y when every loss is positive;
//   DIR/error_vs_step.png   TGMM's l2-error vs step, one series per K at the first evaluation N,
//                           and each baseline's l2-error at that (K, N) as a horizontal line in
//                           the K's colour, one dash style per method. Written once the log has
//                           an evaluation.
// Baseline records (any method other than "tgmm") are taken from eval.json, then from the log's
// evaluation lines and lines {"type": "baselines", "records": [...]}, a later record of the same
// (method, K, N) replacing an earlier one — so a fresh log wins over a stale eval.json. Malformed
// lines (a torn last line) are skipped.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/lib/plot.h"

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

Plot loss_plot(const TrainingLog& log);
// No series when the log has no evaluation.
Plot error_vs_step_plot(const TrainingLog& log);

// Writes DIR/loss.png and (after the first evaluation) DIR/error_vs_step.png, each atomically.
// Throws std::runtime_error naming the file when a log cannot be read or a PNG written: a
// caller inside a training loop should catch it and carry on.
void write_training_plots(const std::string& run_dir);

}  // namespace tg::tools
