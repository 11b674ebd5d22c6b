// run_files.cpp — the files of a training run (see run_files.h).
#include "gmm/tgmm/run_files.h"

#include <nlohmann/json.hpp>

namespace tg::gmm {

namespace fs = std::filesystem;

namespace {

// Evaluation records without their timings: what two scorings of the same tasks share.
std::string scores_text(nlohmann::json records) {
  for (auto& r : records) r.erase("seconds_per_task");
  return records.dump();
}

// Keep the log lines a resumed run would rewrite out of train.jsonl (those after `step`);
// returns the scores of the baselines line kept (scores_text), "" when there is none.
std::string truncate_log(const fs::path& jsonl, int64_t step) {
  std::ifstream in(jsonl);
  std::vector<std::string> keep;
  std::string baselines;
  for (std::string line; std::getline(in, line);) {
    try {
      const nlohmann::json j = nlohmann::json::parse(line);
      if (j.value("step", int64_t{0}) > step) continue;
      keep.push_back(line);
      if (j.value("type", "") == "baselines") {
        baselines = scores_text(j.value("records", nlohmann::json()));
      }
    } catch (const nlohmann::json::exception&) {
      // a torn last line from a killed run: drop it
    }
  }
  std::ofstream out(jsonl, std::ios::trunc);
  for (const auto& line : keep) out << line << "\n";
  return baselines;
}

nlohmann::json records_json(const std::vector<EvalRecord>& records) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : records) j.push_back(to_json(r));
  return j;
}

}  // namespace

RunFiles::RunFiles(const TrainingRun& run)
    : writes_(run.communicator().is_root()), dir_(run.options().out) {
  if (!writes_) return;
  fs::create_directories(dir_);
  const fs::path jsonl = dir_ / "train.jsonl";
  if (run.resumed()) {
    logged_baselines_ = truncate_log(jsonl, run.steps_done());
  } else {
    std::ofstream(jsonl, std::ios::trunc);
    fs::remove(dir_ / "eval.json");
  }
  log_.open(jsonl, std::ios::app);
}

void RunFiles::log_step(const StepRecord& r) {
  if (!writes_) return;
  nlohmann::json line = {
      {"step", r.step},           {"loss", r.loss}, {"weight_loss", r.weight_loss},
      {"mean_loss", r.mean_loss}, {"lr", r.lr},     {"grad_norm", r.grad_norm},
      {"seconds", r.seconds}};
  if (r.scale_loss) line["scale_loss"] = *r.scale_loss;  // a diagonal model's
  log_ << line.dump() << "\n";
}

void RunFiles::log_evaluation(const Evaluation& e) {
  if (!writes_) return;
  if (e.baselines_scored_now) {
    // A resumed run scores the baselines again; the log has them unless --eval-n or
    // --eval-tasks changed what they are scored on.
    const nlohmann::json records = records_json(e.baselines);
    if (scores_text(records) != logged_baselines_) {
      log_ << nlohmann::json{{"type", "baselines"}, {"records", records}}.dump() << "\n";
      logged_baselines_ = scores_text(records);
    }
  }
  log_ << nlohmann::json{{"type", "eval"}, {"step", e.step}, {"records", records_json(e.tgmm)}}
              .dump()
       << "\n";
  log_.flush();
}

void RunFiles::write_final_evaluation(const std::vector<EvalRecord>& records) {
  if (!writes_) return;
  std::ofstream(dir_ / "eval.json") << records_json(records).dump(2) << "\n";
}

void RunFiles::save_checkpoint(const TrainingRun& run) {
  if (!writes_) return;
  nn::save_checkpoint(dir_.string(), run.model(), run.optimizer(), run.checkpoint());
}

}  // namespace tg::gmm
