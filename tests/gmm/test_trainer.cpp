// test_trainer.cpp — the TGMM training loop: resume is bit-identical, a non-finite loss stops
// training and keeps the last good checkpoint, a stop request checkpoints, logs are written; a
// diagonal-covariance run logs its scale loss and its checkpoint loads back.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmm/tgmm/trainer.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"

using namespace tg;
using namespace tg::gmm;
namespace fs = std::filesystem;

namespace {

TrainOptions tiny(const std::string& out) {
  TrainOptions o;
  o.model.d = 2;
  o.model.ks = {2, 3};
  o.model.k_max = 3;
  o.model.embd = 16;
  o.model.layers = 1;
  o.model.heads = 2;
  o.model.n_positions = 8;
  o.model.backbone = "gpt2";
  o.model.weight_head = WeightHead::Slot;
  o.n = 8;
  o.batch = 2;
  o.steps = 6;
  o.warmup = 2;
  o.eval_every = 0;
  o.eval_ns = {8};
  o.eval_tasks = 4;
  o.baselines = {};
  o.checkpoint_every = 3;
  o.threads = 1;
  o.out = out;
  return o;
}

std::string fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("tgmm_test_" + name);
  fs::remove_all(dir);
  return dir.string();
}

// Step lines of train.jsonl without the wall-clock field.
std::vector<std::string> step_lines(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in(dir + "/train.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (!j.contains("loss")) continue;
    j.erase("seconds");
    out.push_back(j.dump());
  }
  return out;
}

}  // namespace

TEST_CASE("a resumed run is bit-identical to an uninterrupted one") {
  const std::string straight = fresh_dir("straight"), resumed = fresh_dir("resumed");
  const TrainResult a = train_tgmm(tiny(straight));
  CHECK(a.step == 6);

  TrainOptions first = tiny(resumed);
  first.steps = 3;  // stop half way (a checkpoint is written at the end)
  train_tgmm(first);
  TrainOptions second = tiny(resumed);
  second.resume = true;
  const TrainResult b = train_tgmm(second);
  CHECK(b.step == 6);

  const auto ta = nn::read_safetensors(straight + "/model.safetensors").tensors;
  const auto tb = nn::read_safetensors(resumed + "/model.safetensors").tensors;
  REQUIRE(ta.size() == tb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    CHECK(ta[i].first == tb[i].first);
    CHECK_MESSAGE(max_abs_diff(ta[i].second, tb[i].second) == 0.0, ta[i].first);
  }
  CHECK(step_lines(straight) == step_lines(resumed));
  CHECK(step_lines(straight).size() == 6);
  CHECK(fs::exists(straight + "/eval.json"));
}

TEST_CASE("the curriculum over N: n_start at the first step, linear to n by the middle") {
  TrainOptions o;
  o.n = 64;
  o.steps = 100;
  CHECK(o.n_at(0) == 64);  // n_start 0: no curriculum
  CHECK(o.task_config(0).n == 64);
  o.n_start = 32;
  CHECK(o.n_at(0) == 32);
  CHECK(o.n_at(25) == 48);
  CHECK(o.n_at(49) == 63);  // 32 + 32 * 49 / 50, rounded down
  CHECK(o.n_at(50) == 64);
  CHECK(o.n_at(99) == 64);
  CHECK(o.task_config(10).n == 38);
  CHECK(o.task_config(10).tasks_per_k == o.batch);
  o.n_start = 64;  // the same as none
  CHECK(o.n_at(0) == 64);
}

namespace {

// Requests a stop once `at` steps are done.
struct StopAt : TrainingObserver {
  int64_t at = 0;
  std::atomic<bool>* stop = nullptr;
  void on_step(const TrainingRun&, const StepRecord& r) override {
    if (r.step >= at) *stop = true;
  }
};

}  // namespace

TEST_CASE("a curriculum run takes another trajectory and resumes bit-identically") {
  TrainOptions o = tiny(fresh_dir("curriculum"));
  o.n_start = 4;  // n 8: steps 1-3 draw at most 4, 5, 6 points
  train_tgmm(o);
  const std::string plain = fresh_dir("curriculum_off");
  train_tgmm(tiny(plain));
  CHECK(step_lines(plain).front() != step_lines(o.out).front());

  TrainOptions interrupted = o;
  interrupted.out = fresh_dir("curriculum_resumed");
  std::atomic<bool> stop{false};
  StopAt stop_at;
  stop_at.at = 2;
  stop_at.stop = &stop;
  CHECK(train_tgmm(interrupted, &stop_at, &stop).interrupted);
  interrupted.resume = true;
  CHECK(train_tgmm(interrupted).step == 6);
  CHECK(step_lines(interrupted.out) == step_lines(o.out));
}

TEST_CASE("resuming without a checkpoint is refused with the directory named") {
  TrainOptions o = tiny(fresh_dir("nothing"));
  o.resume = true;
  CHECK_THROWS_WITH_AS(train_tgmm(o), ("--resume: no checkpoint in " + o.out).c_str(),
                       std::runtime_error);
}

TEST_CASE("a non-finite loss stops training and keeps the last good checkpoint") {
  TrainOptions o = tiny(fresh_dir("diverge"));
  o.steps = 20;
  o.checkpoint_every = 1;
  o.warmup = 0;
  o.schedule = "constant";
  o.clip = 0;
  o.lr = 1e30;  // the first update overflows the parameters
  const TrainResult r = train_tgmm(o);
  CHECK(r.diverged);
  CHECK(r.step < 20);
  CHECK(r.message.find("stopped, the last checkpoint is kept") != std::string::npos);
  CHECK_FALSE(fs::exists(o.out + "/eval.json"));
  if (r.step > 0) {
    // The checkpoint on disk is the one of the last finite step, and it loads.
    Generator gen(0);
    TgmmModel model(o.model, gen);
    nn::AdamW opt(model.named_parameters());
    const nn::Checkpoint ck = nn::load_checkpoint(o.out, model, opt);
    CHECK(ck.step == r.step);
  }
}

TEST_CASE("a stop request saves a checkpoint and returns") {
  TrainOptions o = tiny(fresh_dir("stop"));
  o.checkpoint_every = 0;
  std::atomic<bool> stop{true};
  const TrainResult r = train_tgmm(o, nullptr, &stop);
  CHECK(r.interrupted);
  CHECK(r.step == 0);
  CHECK(nn::checkpoint_exists(o.out));
}

TEST_CASE("bad training options are refused with the flag named") {
  TrainOptions o = tiny(fresh_dir("bad"));
  o.batch = 0;
  CHECK_THROWS_WITH_AS(o.validate(), "--batch must be >= 1", std::invalid_argument);
  o = tiny(fresh_dir("bad"));
  o.eval_ns = {64};  // beyond the gpt2 model's 8 positions
  CHECK_THROWS_WITH_AS(o.validate(), "--eval-n 64 exceeds the model's positions",
                       std::invalid_argument);
}

TEST_CASE("a TrainingRun stepped by hand reports what the trainer logs") {
  TrainOptions o = tiny(fresh_dir("by_trainer"));
  o.eval_every = 3;
  o.baselines = {"em-paper"};
  train_tgmm(o);
  std::vector<nlohmann::json> logged;
  for (const auto& line : step_lines(o.out)) logged.push_back(nlohmann::json::parse(line));
  REQUIRE(logged.size() == 6);

  TrainingRun run(o);
  CHECK(run.steps_done() == 0);
  CHECK_FALSE(run.resumed());
  for (int64_t s = 1; s <= 6; ++s) {
    CAPTURE(s);
    const StepRecord r = run.step();
    REQUIRE(r.status == StepResult::Ok);
    CHECK(r.step == s);
    CHECK(run.steps_done() == s);
    const nlohmann::json& j = logged[s - 1];
    CHECK(j["step"] == s);
    CHECK(j["loss"].get<double>() == r.loss);
    CHECK(j["weight_loss"].get<double>() == r.weight_loss);
    CHECK(j["mean_loss"].get<double>() == r.mean_loss);
    CHECK(j["lr"].get<double>() == r.lr);
    CHECK(j["grad_norm"].get<double>() == r.grad_norm);
    CHECK(r.seconds > 0);
    CHECK(run.evaluation_due() == (s == 3));  // not at the last step: the final one covers it
    CHECK(run.checkpoint_due() == (s % 3 == 0));
  }
  CHECK(run.finished());

  const Evaluation first = run.evaluate();
  CHECK(first.step == 6);
  CHECK(first.baselines_scored_now);
  CHECK(first.tgmm.size() == 2);  // K = 2, 3 at N = 8
  REQUIRE(first.baselines.size() == 2);
  CHECK(first.baselines[0].method == "em-paper");
  const Evaluation second = run.evaluate();
  CHECK_FALSE(second.baselines_scored_now);  // scored once, reused
  CHECK(to_json(second.baselines) == to_json(first.baselines));
  for (size_t i = 0; i < first.tgmm.size(); ++i) {  // the same tasks, the same model
    CHECK(second.tgmm[i].metrics.l2_error.mean == first.tgmm[i].metrics.l2_error.mean);
  }
  CHECK(run.checkpoint().step == 6);
}

namespace {

// Notes each call, with what the run's files hold at that moment.
struct Recorder : TrainingObserver {
  std::string dir;
  std::vector<std::string> events;
  int64_t log_lines() const {
    std::ifstream in(dir + "/train.jsonl");
    int64_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }
  void on_start(const TrainingRun& run) override {
    events.push_back("start " + std::to_string(run.steps_done()));
  }
  void on_step(const TrainingRun&, const StepRecord& r) override {
    events.push_back("step " + std::to_string(r.step));
  }
  void on_steps_end(const TrainingRun&) override { events.push_back("end"); }
  void on_evaluation(const TrainingRun&, const Evaluation& e, bool final) override {
    events.push_back(std::string(final ? "final " : "eval ") + std::to_string(e.step) + " lines " +
                     std::to_string(log_lines()) +
                     (fs::exists(dir + "/eval.json") ? " eval.json" : ""));
  }
};

}  // namespace

TEST_CASE("the observer hears each step and evaluation, after the files say it") {
  TrainOptions o = tiny(fresh_dir("observed"));
  o.eval_every = 2;
  o.steps = 4;
  o.baselines = {"em-paper"};
  Recorder recorder;
  recorder.dir = o.out;
  const TrainResult r = train_tgmm(o, &recorder);
  CHECK(r.step == 4);
  // train.jsonl: steps 1-2, the baselines, eval at 2, steps 3-4, eval at 4 (the final one).
  const std::vector<std::string> expected = {
      "start 0", "step 1", "step 2", "eval 2 lines 4",
      "step 3",  "step 4", "end",    "final 4 lines 7 eval.json"};
  CHECK(recorder.events == expected);
  std::ifstream in(o.out + "/train.jsonl");
  std::vector<std::string> kinds;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    kinds.push_back(j.value("type", "step") + " " + std::to_string(j.value("step", 0)));
  }
  CHECK(kinds == std::vector<std::string>{"step 1", "step 2", "baselines 0", "eval 2", "step 3",
                                          "step 4", "eval 4"});
}

TEST_CASE("the paper recipe is an overlay on the default run") {
  TrainOptions o;
  o.model.d = 3;  // not part of the recipe: kept
  o.seed = 5;
  apply_paper_recipe(o);
  CHECK(o.model.d == 3);
  CHECK(o.seed == 5);
  CHECK(o.model.backbone == "gpt2");
  CHECK(o.model.weight_head == WeightHead::Average);
  CHECK(o.model.embd == 128);
  CHECK(o.model.layers == 12);
  CHECK(o.model.heads == 4);
  CHECK(o.loss == LossKind::Sorted);
  CHECK(o.lr == 1e-3);
  CHECK(o.schedule == "constant");
  CHECK(o.warmup == 0);
  CHECK(o.clip == 0);
  CHECK(o.batch == 64);
  CHECK(o.n == 128);
  CHECK(o.eval_ns == std::vector<int64_t>{32, 64, 128});
}

TEST_CASE(
    "a diagonal run trains on anisotropic tasks, logs its scale loss, scores scales, and "
    "its checkpoint loads back") {
  TrainOptions o = tiny(fresh_dir("diag"));
  o.model.covariance = Covariance::Diagonal;
  o.baselines = default_baselines(Covariance::Diagonal);
  o.steps = 3;
  const TrainResult result = train_tgmm(o);
  REQUIRE(result.final_eval.size() == 2 * 4);  // K = 2, 3: tgmm and three baselines
  for (const EvalRecord& r : result.final_eval) {
    CAPTURE(r.method);
    if (r.method == "spectral") {
      CHECK(r.metrics.failures == r.metrics.tasks);
      CHECK(r.metrics.scale_error.count == 0);
    } else {
      CHECK(r.metrics.scale_error.count == r.metrics.tasks - r.metrics.failures);
      CHECK(r.metrics.scale_error.count > 0);
    }
  }
  CHECK(result.final_eval[0].method == "tgmm");
  CHECK(result.final_eval[2].method == "em-paper-diag");
  for (const auto& line : step_lines(o.out)) {
    const auto j = nlohmann::json::parse(line);
    REQUIRE(j.contains("scale_loss"));
    CHECK(j["scale_loss"].get<double>() > 0);
    // The logged loss is the sum of its three parts (in f32, each rounded once).
    CHECK(j["loss"].get<double>() ==
          doctest::Approx(j["weight_loss"].get<double>() + j["mean_loss"].get<double>() +
                          j["scale_loss"].get<double>())
              .epsilon(1e-5));
  }

  // The checkpoint: its metadata says diag, and the reloaded model gives the same scales.
  const std::string model_file = o.out + "/" + nn::kModelFile;
  const TgmmConfig config = TgmmConfig::from_metadata(nn::read_safetensors_metadata(model_file));
  CHECK(config.covariance == Covariance::Diagonal);
  CHECK(config.k_max == 3);
  Generator gen(0);
  TgmmModel reloaded(config, gen);
  nn::load_module(model_file, reloaded);
  TrainingRun run(o);
  run.resume();
  TaskConfig tasks = o.task_config();
  tasks.random_lengths = false;
  Generator task_gen(1);
  const TaskBatch batch = sample_tasks(tasks, task_gen);
  REQUIRE(batch.scales.defined());
  const TgmmOutput a = run.model().forward(batch.x, batch.ks, batch.valid_mask(DType::F32));
  const TgmmOutput b = reloaded.forward(batch.x, batch.ks, batch.valid_mask(DType::F32));
  CHECK(max_abs_diff(a.scales.value(), b.scales.value()) == 0.0);
  CHECK(max_abs_diff(a.means.value(), b.means.value()) == 0.0);
}
