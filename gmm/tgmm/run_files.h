// run_files.h — every file a training run writes, in its directory `out`:
//
//   train.jsonl   one JSON object per line: each step {"step", "loss", "weight_loss",
//                 "mean_loss", "lr", "grad_norm", "seconds"} (a diagonal model's adds
//                 "scale_loss"); the baselines once, at the first evaluation
//                 {"type": "baselines", "records": [...]}; each
//                 evaluation {"type": "eval", "step", "records": [...]} (harness JSON keys,
//                 evaluate.h), flushed at once;
//   eval.json     the final evaluation: TGMM's records, then the baselines' (a JSON array);
//   model.safetensors, training_state.safetensors   the checkpoint (nn/checkpoint.h).
//
// A fresh run empties train.jsonl and removes a stale eval.json from an earlier run in the
// same directory; a resumed run keeps the log lines up to its step (dropping those a killed
// run wrote after its checkpoint, and a torn last line), so the log reads as if the run had
// never stopped: the baselines it scores again are not logged again, unless they differ from
// those in the log (a resume with another --eval-n or --eval-tasks). This is the only place that
// writes; with several processes only rank 0's RunFiles writes (the others' do nothing), so every
// file has one writer.
#pragma once
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmm/tgmm/training_run.h"

namespace tg::gmm {

class RunFiles {
 public:
  // Opens the log of `run` in run.options().out (creating the directory), fresh or resumed as
  // run.resumed() says.
  explicit RunFiles(const TrainingRun& run);

  void log_step(const StepRecord& record);
  void log_evaluation(const Evaluation& evaluation);
  void write_final_evaluation(const std::vector<EvalRecord>& records);
  void save_checkpoint(const TrainingRun& run);

 private:
  bool writes_;  // rank 0 (or the only process)
  std::filesystem::path dir_;
  std::ofstream log_;
  std::string logged_baselines_;  // the scores of the baselines line in the log, "" before one
};

}  // namespace tg::gmm
