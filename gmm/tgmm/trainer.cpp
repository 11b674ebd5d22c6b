// trainer.cpp — the TGMM training loop (see trainer.h).
#include "gmm/tgmm/trainer.h"

namespace tg::gmm {

namespace {

std::string divergence_message(const StepRecord& r, const nn::Communicator& comm) {
  const bool loss = r.status == StepResult::LossNotFinite;
  const std::string where =
      comm.distributed() ? " (first seen by rank " + std::to_string(r.failed_rank) + ")" : "";
  return std::string(loss ? "loss is " : "gradient norm is ") +
         std::to_string(loss ? r.loss : r.grad_norm) + " at step " + std::to_string(r.step) +
         where + "; stopped, the last checkpoint is kept";
}

void evaluate_and_log(TrainingRun& run, RunFiles& files, TrainingObserver& observer) {
  const Evaluation e = run.evaluate();
  files.log_evaluation(e);
  observer.on_evaluation(run, e, false);
}

std::vector<EvalRecord> final_evaluation(TrainingRun& run, RunFiles& files,
                                         TrainingObserver& observer) {
  const Evaluation e = run.evaluate();
  files.log_evaluation(e);
  std::vector<EvalRecord> records = e.tgmm;
  records.insert(records.end(), e.baselines.begin(), e.baselines.end());
  files.write_final_evaluation(records);
  observer.on_evaluation(run, e, true);
  return records;
}

}  // namespace

TrainResult train(TrainingRun& run, RunFiles& files, TrainingObserver& observer,
                  const std::atomic<bool>* stop) {
  TrainResult result;
  observer.on_start(run);
  const nn::Communicator& comm = run.communicator();
  while (!run.finished()) {
    if (comm.any(stop && stop->load())) {  // every process stops at the same step
      files.save_checkpoint(run);
      result.interrupted = true;
      result.message = "stopped at step " + std::to_string(run.steps_done()) + "; checkpoint saved";
      break;
    }
    const StepRecord record = run.step();
    if (record.status != StepResult::Ok) {
      result.diverged = true;
      result.message = divergence_message(record, comm);
      break;
    }
    files.log_step(record);
    observer.on_step(run, record);
    if (run.evaluation_due()) evaluate_and_log(run, files, observer);
    if (run.replica_check_due()) {
      const std::string disagreement = run.replicas_disagree();
      if (!disagreement.empty()) {
        result.diverged = true;
        result.message = disagreement + "; stopped, the last checkpoint is kept";
        break;
      }
    }
    if (run.checkpoint_due()) files.save_checkpoint(run);
  }
  observer.on_steps_end(run);
  result.step = run.steps_done();
  if (run.finished() && !result.interrupted && !result.diverged) {
    result.final_eval = final_evaluation(run, files, observer);
  }
  return result;
}

TrainResult train_tgmm(const TrainOptions& options, TrainingObserver* observer,
                       const std::atomic<bool>* stop) {
  TrainingRun run(options);
  if (options.resume) run.resume();
  RunFiles files(run);
  TrainingObserver silent;
  return train(run, files, observer ? *observer : silent, stop);
}

}  // namespace tg::gmm
