// test_trainer.cpp — the TGMM training loop: resume is bit-identical, a non-finite loss stops
// training and keeps the last good checkpoint, a stop request checkpoints, logs are written.
#include <doctest/doctest.h>

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
