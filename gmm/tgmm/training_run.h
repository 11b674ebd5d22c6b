// training_run.h — a TGMM training run as an object: its model, optimiser, schedule and data,
// advanced one named step at a time.
//
//   TrainingRun run(options);   // model initialised from options.seed, AdamW, the lr schedule,
//                               // the data generator (seeded from options.seed too)
//   run.resume();               // optional: continue from the checkpoint in options.out
//   while (!run.finished()) {
//     StepRecord r = run.step();                    // one optimiser step (train_step.h)
//     if (run.evaluation_due()) run.evaluate();     // TGMM (and once, the baselines) scored
//     if (run.checkpoint_due()) ... run.checkpoint()
//   }
//
// The run computes and keeps state; it writes no file and prints nothing. The trainer
// (trainer.h) drives it, writes what it reports (run_files.h) and tells an observer.
//
// Randomness: the model is initialised from a generator seeded with `seed`, the training tasks
// come from a second one seeded with `seed ^ 0x5eed` (its state is part of a checkpoint, so a
// resumed run draws the very tasks the uninterrupted one would have), the evaluation tasks from
// eval_seed (evaluate.h), the same at every evaluation.
//
// Data-parallel (docs/distributed.md). Given a communicator of P processes (by default
// nn::Communicator::world(): P > 1 when mpirun started the program), every process builds the
// same run and the run is split, not repeated:
//   * the step's tasks (batch per K x |ks|) are divided into P contiguous blocks of task
//     positions (split_range); every process advances the data generator exactly as one process
//     would and draws only the tasks of its block, so the data stream does not depend on P;
//   * the loss is normalised over the whole step and the gradients summed (train_step.h);
//     clipping and AdamW run identically everywhere;
//   * TGMM's evaluation tasks are split and gathered to rank 0 (split_evaluation.h); the
//     baselines are scored by rank 0 alone (evaluate() returns the records on rank 0 only);
//   * resume(): rank 0 loads the checkpoint and sends the model, optimiser state, step and data
//     generator to the others (no shared disk needed), so any P continues any checkpoint;
//   * replicas_agree() compares a checksum of every process's parameters.
// With one process none of this makes a call: the run is exactly the one-process run.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gmm/mixture/evaluate.h"
#include "gmm/tgmm/tgmm.h"
#include "gmm/tgmm/train_options.h"
#include "gmm/tgmm/train_step.h"
#include "nn/checkpoint.h"
#include "nn/data_parallel.h"
#include "nn/distributed.h"
#include "nn/optim.h"
#include "nn/schedule.h"

namespace tg::gmm {

// What one step reports (what a train.jsonl line holds).
struct StepRecord : StepResult {
  int64_t step = 0;    // this step's number, from 1 (also when it failed)
  double lr = 0;       // the learning rate it ran at
  double seconds = 0;  // wall time of the whole step, sampling included
};

// One evaluation: TGMM on the evaluation tasks, and the baselines on the same tasks.
struct Evaluation {
  int64_t step = 0;  // steps completed when it ran
  std::vector<EvalRecord> tgmm;
  std::vector<EvalRecord> baselines;  // scored at the run's first evaluation, then reused
  bool baselines_scored_now = false;  // true at that first evaluation
};

class TrainingRun {
 public:
  // Validates `options` (std::invalid_argument naming the flag; also when the step has fewer
  // tasks than there are processes), sets the thread count, builds the model on options.device
  // (with P processes: each on its machine's GPU number local_rank) and the optimiser, and gives
  // every process rank 0's parameters. Step 0.
  explicit TrainingRun(const TrainOptions& options,
                       nn::Communicator& comm = nn::Communicator::world());
  TrainingRun(const TrainingRun&) = delete;
  TrainingRun& operator=(const TrainingRun&) = delete;

  // Continue from the checkpoint in options.out: the model, AdamW's moments, the step and the
  // data generator's state come back bit for bit. Throws std::runtime_error when there is none,
  // or when the options differ from the checkpoint's in a setting that shapes the trajectory
  // (trajectory_differences, train_options.h; each difference named). With P processes rank 0
  // reads it and sends it to the others (every process throws alike).
  void resume();

  // One optimiser step at the scheduled learning rate: draw the step's tasks, then train_step.
  // A step whose loss or gradient is not finite leaves the parameters (and the step count) as
  // they were and says so in its status.
  StepRecord step();

  // TGMM on the evaluation tasks (eval mode, no gradients); the baselines are scored on the
  // same tasks at the first call and reused afterwards. With P processes the records are on
  // rank 0 (the others get none).
  Evaluation evaluate();

  // Whether every process holds the same parameters (a checksum of each, compared). Empty when
  // they do; else a message naming the first rank whose parameters differ from rank 0's. Every
  // process calls it; with one process it is always empty.
  std::string replicas_disagree() const;
  // Every replica_check_every steps and at the end, with more than one process.
  bool replica_check_due() const;

  // The state a checkpoint saves besides the model and the optimiser (nn/checkpoint.h).
  nn::Checkpoint checkpoint() const;

  bool finished() const { return step_ >= options_.steps; }
  // Every eval_every steps, except at the end (the trainer's final evaluation covers it).
  bool evaluation_due() const;
  // Every checkpoint_every steps, and at the end.
  bool checkpoint_due() const;

  int64_t steps_done() const { return step_; }
  bool resumed() const { return resumed_; }
  const TrainOptions& options() const { return options_; }
  const TgmmModel& model() const { return model_; }
  const nn::AdamW& optimizer() const { return optimizer_; }
  const nn::LrSchedule& schedule() const { return schedule_; }
  const nn::Communicator& communicator() const { return comm_; }
  // This process's block of each step's tasks.
  TaskRange task_share() const { return share_; }

 private:
  void share_state_of_root();  // rank 0's step, data generator, model and optimiser to all
  void check_checkpoint_settings() const;  // resume(): throws naming each differing setting

  TrainOptions options_;
  nn::Communicator& comm_;
  nn::GradientReducer reducer_;  // phase 4 of a split step
  Generator init_gen_;           // model initialisation
  Generator data_gen_;           // training tasks
  TgmmModel model_;
  nn::AdamW optimizer_;
  nn::LrSchedule schedule_;
  TaskConfig tasks_;  // one step's tasks (all processes' together)
  TaskRange share_;   // this process's block of them
  std::vector<EvalRecord> baseline_records_;
  bool baselines_scored_ = false;
  int64_t step_ = 0;
  bool resumed_ = false;
};

// TGMM as an estimator for the harness (eval mode, no gradients); a diagonal model's estimates
// carry its scales.
Estimator tgmm_estimator(const TgmmModel& model, const std::string& name = "tgmm");

}  // namespace tg::gmm
