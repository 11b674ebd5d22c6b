// test_split_training.cpp — a TrainingRun split over the processes of the launch against the same
// run in one process (each process runs both): the same losses, gradient norms and parameters up
// to summation order (f32 1e-4 relative, f64 1e-12), the same evaluation records on rank 0, a
// non-finite loss on one process stopping all of them with its rank named, replicas that drift
// apart caught by their checksums, a checkpoint written by one process resumed by all, and a
// diagonal-covariance run (its scale loss and scale error) split the same way.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include "gmm/tgmm/training_run.h"
#include "nn/checkpoint.h"
#include "nn/distributed.h"

using namespace tg;
using namespace tg::gmm;

namespace {

nn::Communicator& world() { return nn::Communicator::world(); }

// A tiny run whose 9 tasks per step (3 K x 3) split unevenly over 2 processes and leave a K
// out of some processes' blocks with 3 or more.
TrainOptions tiny(DType dtype) {
  TrainOptions o;
  o.model = {.d = 2,
             .ks = {2, 3, 4},
             .k_max = 4,
             .embd = 16,
             .layers = 1,
             .heads = 2,
             .n_positions = 8,
             .backbone = "set",
             .weight_head = WeightHead::Slot,
             .dtype = dtype};
  o.n = 8;
  o.batch = 3;
  o.steps = 6;
  o.warmup = 2;
  o.threads = 1;
  o.eval_ns = {8};
  o.eval_tasks = 5;
  o.baselines = {"em-paper"};
  return o;
}

double relative(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-30); }

// The largest relative difference between the two models' parameters (by their norms).
double parameter_difference(const TgmmModel& a, const TgmmModel& b) {
  double worst = 0;
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    const Tensor x = pa[i].second.value().to(DType::F64), y = pb[i].second.value().to(DType::F64);
    const double scale = std::max(max_abs_diff(y, zeros(y.shape(), DType::F64)), 1e-30);
    worst = std::max(worst, max_abs_diff(x, y) / scale);
  }
  return worst;
}

std::string shared_dir(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("tg_mpi_" + name)).string();
}

}  // namespace

TEST_CASE("a run split over the processes takes the steps of the same run in one process") {
  for (const auto& [dtype, tolerance] : {std::pair{DType::F32, 1e-4}, {DType::F64, 1e-12}}) {
    CAPTURE(dtype_name(dtype));
    TrainingRun split(tiny(dtype), world());
    TrainingRun alone(tiny(dtype), nn::Communicator::single_process());
    CHECK(split.task_share().count >= 9 / world().size());
    for (int s = 0; s < 6; ++s) {
      const StepRecord a = split.step(), b = alone.step();
      REQUIRE(a.status == StepResult::Ok);
      CHECK(relative(a.loss, b.loss) < tolerance);
      CHECK(relative(a.weight_loss, b.weight_loss) < tolerance);
      CHECK(relative(a.grad_norm, b.grad_norm) < tolerance);
      CHECK(a.lr == b.lr);
    }
    CHECK(parameter_difference(split.model(), alone.model()) < tolerance);
    CHECK(split.replicas_disagree().empty());

    const Evaluation e = split.evaluate(), f = alone.evaluate();
    if (world().is_root()) {
      REQUIRE(e.tgmm.size() == f.tgmm.size());
      for (size_t i = 0; i < e.tgmm.size(); ++i) {
        CHECK(e.tgmm[i].metrics.tasks == 5);
        CHECK(e.tgmm[i].k == f.tgmm[i].k);
        CHECK(relative(e.tgmm[i].metrics.l2_error.mean, f.tgmm[i].metrics.l2_error.mean) <
              tolerance);
        CHECK(relative(e.tgmm[i].metrics.log_likelihood.median,
                       f.tgmm[i].metrics.log_likelihood.median) < tolerance);
      }
      REQUIRE(e.baselines.size() == 3);
      CHECK(e.baselines[2].metrics.l2_error.mean == f.baselines[2].metrics.l2_error.mean);
    } else {
      CHECK(e.tgmm.empty());
      CHECK(e.baselines.empty());
    }
  }
}

TEST_CASE("a diagonal-covariance run split over the processes: the scale loss and error too") {
  TrainOptions o = tiny(DType::F64);
  o.model.covariance = Covariance::Diagonal;
  o.baselines = {"em-paper-diag"};
  TrainingRun split(o, world());
  TrainingRun alone(o, nn::Communicator::single_process());
  for (int s = 0; s < 4; ++s) {
    const StepRecord a = split.step(), b = alone.step();
    REQUIRE(a.status == StepResult::Ok);
    REQUIRE(a.scale_loss.has_value());
    REQUIRE(b.scale_loss.has_value());
    CHECK(relative(*a.scale_loss, *b.scale_loss) < 1e-12);
    CHECK(relative(a.loss, b.loss) < 1e-12);
  }
  CHECK(parameter_difference(split.model(), alone.model()) < 1e-12);
  const Evaluation e = split.evaluate(), f = alone.evaluate();
  if (world().is_root()) {
    REQUIRE(e.tgmm.size() == f.tgmm.size());
    for (size_t i = 0; i < e.tgmm.size(); ++i) {
      REQUIRE(e.tgmm[i].metrics.scale_error.count == f.tgmm[i].metrics.scale_error.count);
      CHECK(e.tgmm[i].metrics.scale_error.count > 0);
      CHECK(relative(e.tgmm[i].metrics.scale_error.mean, f.tgmm[i].metrics.scale_error.mean) <
            1e-12);
    }
  }
}

TEST_CASE("a non-finite loss on one process stops every process, naming it") {
  TrainingRun run(tiny(DType::F32), world());
  CHECK(run.step().status == StepResult::Ok);
  if (world().rank() == world().size() - 1) {
    Tensor w = run.model().named_parameters().front().second.value();
    w.fill_(std::numeric_limits<double>::quiet_NaN());
  }
  const StepRecord r = run.step();
  CHECK(r.status == StepResult::LossNotFinite);
  CHECK(std::isnan(r.loss));
  CHECK(r.failed_rank == (world().distributed() ? world().size() - 1 : 0));
  CHECK(run.steps_done() == 1);
}

TEST_CASE("replicas that drift apart are caught by their checksums") {
  TrainingRun run(tiny(DType::F32), world());
  run.step();
  CHECK(run.replicas_disagree().empty());
  if (world().rank() == world().size() - 1) {
    Tensor first_row = run.model().named_parameters().back().second.value().narrow(0, 0, 1);
    first_row.copy_(add_scalar(first_row, 1e-6));
  }
  const std::string message = run.replicas_disagree();
  if (world().distributed()) {
    CHECK(message.find("rank " + std::to_string(world().size() - 1) + "'s parameters") !=
          std::string::npos);
  } else {
    CHECK(message.empty());  // one process has nothing to compare
  }
}

TEST_CASE("a checkpoint written by one process is resumed by all, on the same trajectory") {
  TrainOptions o = tiny(DType::F64);
  o.out = shared_dir("resume_" + std::to_string(world().size()));
  TrainingRun first(o, nn::Communicator::single_process());
  for (int s = 0; s < 3; ++s) first.step();
  if (world().is_root()) {
    std::filesystem::remove_all(o.out);
    nn::save_checkpoint(o.out, first.model(), first.optimizer(), first.checkpoint());
  }
  world().barrier();
  TrainingRun resumed(o, world());
  resumed.resume();
  CHECK(resumed.steps_done() == 3);
  CHECK(parameter_difference(resumed.model(), first.model()) == 0.0);
  for (int s = 0; s < 3; ++s) {
    const StepRecord a = resumed.step(), b = first.step();
    CHECK(relative(a.loss, b.loss) < 1e-12);
  }
  CHECK(parameter_difference(resumed.model(), first.model()) < 1e-12);
  world().barrier();
  if (world().is_root()) std::filesystem::remove_all(o.out);

  o.out = shared_dir("no_checkpoint");
  TrainingRun missing(o, world());
  CHECK_THROWS_WITH_AS(missing.resume(), ("--resume: no checkpoint in " + o.out).c_str(),
                       std::runtime_error);
}
