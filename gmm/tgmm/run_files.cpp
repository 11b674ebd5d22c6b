// run_files.cpp — the files of a training run (see run_files.h).
#include "gmm/tgmm/run_files.h"

#include <nlohmann/json.hpp>

namespace tg::gmm {

namespace fs = std::filesystem;

namespace {

// Keep the log lines a resumed run would rewrite out of train.jsonl (those after `step`).
void truncate_log(const fs::path& jsonl, int64_t step) {
  std::ifstream in(jsonl);
  std::vector<std::string> keep;
  for (std::string line; std::getline(in, line);) {
    try {
      if (nlohmann::json::parse(line).value("step", int64_t{0}) <= step) keep.push_back(line);
    } catch (const nlohmann::json::exception&) {
      // a torn last line from a killed run: drop it
    }
  }
  std::ofstream out(jsonl, std::ios::trunc);
  for (const auto& line : keep) out << line << "\n";
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
    truncate_log(jsonl, run.steps_done());
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
    log_ << nlohmann::json{{"type", "baselines"}, {"records", records_json(e.baselines)}}.dump()
         << "\n";
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
