// test_resume_settings.cpp — --resume takes the checkpoint's settings (tools/lib/train_flags.h),
// in-process: a setting given again with another value (flag, config key, --recipe) is refused
// in one line naming each difference with both values; the same value repeated is accepted; the
// run's length, reporting and place may change; with no settings at all every one is the
// checkpoint's, bit for bit for the doubles; a checkpoint without the newer keys leaves what it
// lacks to the flags and defaults; the training-run layer refuses what slips past the flags.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gmm/tgmm/trainer.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "tools/lib/train_flags.h"
#include "tools/train_flags_testing.h"

namespace fs = std::filesystem;
using tg::gmm::LossKind;
using tg::gmm::TrainOptions;
using tg::gmm::WeightHead;
using tg::testing::refusal;
using tg::testing::resolve;

namespace {

const std::string kTiny =
    "--d 2 --ks 2,3 --embd 16 --layers 1 --heads 2 --n 8 --batch 2 --eval-n 8 --positions 8 "
    "--threads 1";

// A fresh directory holding the checkpoint of a 2-step run with kTiny and `flags` (4 evaluation
// tasks, evaluated at the end only, unless `flags` say).
std::string checkpoint_of(const std::string& name, const std::string& flags) {
  const fs::path dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  std::string args = kTiny + " " + flags + " --steps 2 --out " + dir.string();
  if (flags.find("--eval-tasks") == std::string::npos) args += " --eval-tasks 4";
  if (flags.find("--eval-every") == std::string::npos) args += " --eval-every 0";
  TrainOptions o = resolve(args);
  o.baselines = {};  // not needed here
  tg::gmm::train_tgmm(o);
  return dir.string();
}

std::string write_toml(const std::string& name, const std::string& text) {
  const fs::path path = fs::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

// Rewrites the training state of the checkpoint in `dir` without the metadata keys `drop`, as
// a checkpoint written before they existed would be.
void drop_training_keys(const std::string& dir, const std::vector<std::string>& drop) {
  const std::string path = dir + "/" + tg::nn::kTrainingStateFile;
  tg::nn::SafetensorsFile state = tg::nn::read_safetensors(path);
  for (const auto& key : drop) REQUIRE(state.metadata.erase(key) == 1);
  tg::nn::write_safetensors(path, state.tensors, state.metadata);
}

}  // namespace

TEST_CASE("--resume: a setting given with another value is refused, naming each difference") {
  const std::string dir = checkpoint_of("tg_resume_refused", "--weight-head average --lr 1e-3");
  const std::string head = "--resume: the checkpoint in " + dir +
                           " was trained with different "
                           "settings: ";
  const std::string resume = " --resume --out " + dir;
  CHECK(refusal(kTiny + resume + " --lr 0.003 --loss sorted") ==
        head + "lr 0.001 (saved) vs 0.003 (given); loss hungarian (saved) vs sorted (given)");
  CHECK(refusal(resume + " --weight-head slot") ==
        head + "weight-head average (saved) vs slot (given)");
  CHECK(refusal(resume + " --embd 32 --heads 4 --ks 2,3,4") ==
        head +
            "ks 2,3 (saved) vs 2,3,4 (given); embd 16 (saved) vs 32 (given); heads 2 (saved) "
            "vs 4 (given)");
  CHECK(refusal(resume + " --schedule constant --seed 7 --n 6 --batch 3") ==
        head +
            "n 8 (saved) vs 6 (given); batch 2 (saved) vs 3 (given); schedule cosine (saved) "
            "vs constant (given); seed 42 (saved) vs 7 (given)");
  CHECK(refusal(resume + " --covariance diag --positions 16 --k-max 4") ==
        head +
            "k-max 3 (saved) vs 4 (given); positions 8 (saved) vs 16 (given); covariance "
            "unit (saved) vs diag (given)");
  CHECK(refusal(resume + " --min-lr 0 --wd 0.1 --clip 0 --warmup 1 --d 3") ==
        head +
            "d 2 (saved) vs 3 (given); min-lr 0.0001 (saved) vs 0 (given); wd 0 (saved) vs "
            "0.1 (given); warmup 200 (saved) vs 1 (given); clip 1 (saved) vs 0 (given)");
  // A config key counts as given; so does what --recipe sets.
  const std::string config = write_toml("tg_resume_refused.toml", "lr = 0.002\n");
  CHECK(refusal(resume + " --config " + config) == head + "lr 0.001 (saved) vs 0.002 (given)");
  const std::string recipe = refusal(resume + " --recipe paper");
  CHECK(recipe.rfind(head + "embd 16 (saved) vs 128 (given); layers 1 (saved) vs 12 (given); "
                            "backbone set (saved) vs gpt2 (given);",
                     0) == 0);
  CHECK(recipe.find('\n') == std::string::npos);
  CHECK(recipe.find("weight-head") == std::string::npos);  // average, as the recipe says
  // A contradiction is a usage error (tools/train: exit code 2).
  CHECK_THROWS_AS(resolve(resume + " --lr 0.1"), std::invalid_argument);
}

TEST_CASE("--resume: the same values repeated are accepted; length, reporting and place change") {
  const std::string dir = checkpoint_of("tg_resume_same", "--weight-head average --lr 1e-3");
  const TrainOptions same = resolve(kTiny + " --weight-head average --lr 0.0010 --resume --out " +
                                    dir);  // 0.0010 is the same double as 1e-3
  CHECK(same.lr == 1e-3);
  CHECK(same.model.weight_head == WeightHead::Average);
  CHECK(same.steps == 2);  // the checkpoint's

  const TrainOptions changed =
      resolve("--resume --out " + dir +
              " --steps 9 --eval-every 3 --eval-n 4,8 --eval-tasks 2 --checkpoint-every 1 "
              "--threads 2");
  CHECK(changed.steps == 9);
  CHECK(changed.eval_every == 3);
  CHECK(changed.eval_ns == std::vector<int64_t>{4, 8});
  CHECK(changed.eval_tasks == 2);
  CHECK(changed.checkpoint_every == 1);
  CHECK(changed.threads == 2);
  CHECK(changed.lr == 1e-3);  // the rest is the checkpoint's
  CHECK(changed.model.weight_head == WeightHead::Average);
  // A --eval-n beyond a gpt2 model's saved positions is still refused.
  const std::string gpt2 = checkpoint_of("tg_resume_gpt2", "--backbone gpt2");
  CHECK(refusal("--resume --out " + gpt2 + " --eval-n 16") ==
        "--eval-n 16 exceeds the model's positions");
}

TEST_CASE("--resume with no settings: every one is the checkpoint's, doubles bit for bit") {
  const std::string dir = checkpoint_of(
      "tg_resume_bare",
      "--weight-head average --lr 1.2345678901234567e-3 --min-lr 3e-7 --wd 0.0123456789 "
      "--clip 0.75 --loss sorted --schedule constant --warmup 1 --seed 5 --k-max 4 "
      "--eval-tasks 3 --eval-every 7 --checkpoint-every 1 --covariance diag");
  const TrainOptions o = resolve("--resume --out " + dir);
  CHECK(o.model.d == 2);
  CHECK(o.model.ks == std::vector<int64_t>{2, 3});
  CHECK(o.model.k_max == 4);
  CHECK(o.model.embd == 16);
  CHECK(o.model.layers == 1);
  CHECK(o.model.heads == 2);
  CHECK(o.model.n_positions == 8);
  CHECK(o.model.backbone == "set");
  CHECK(o.model.weight_head == WeightHead::Average);
  CHECK(o.model.covariance == tg::gmm::Covariance::Diagonal);
  CHECK(o.baselines == tg::gmm::default_baselines(tg::gmm::Covariance::Diagonal));
  CHECK(o.n == 8);
  CHECK(o.batch == 2);
  CHECK(o.lr == 1.2345678901234567e-3);
  CHECK(o.min_lr == 3e-7);
  CHECK(o.wd == 0.0123456789);
  CHECK(o.clip == 0.75);
  CHECK(o.loss == LossKind::Sorted);
  CHECK(o.schedule == "constant");
  CHECK(o.warmup == 1);
  CHECK(o.seed == 5);
  CHECK(o.steps == 2);
  CHECK(o.eval_ns == std::vector<int64_t>{8});
  CHECK(o.eval_tasks == 3);
  CHECK(o.eval_every == 7);
  CHECK(o.checkpoint_every == 1);
  CHECK(o.threads == tg::gmm::default_threads());  // the place: the default, not the checkpoint's
  CHECK(o.out == dir);
  CHECK(o.resume);
}

TEST_CASE("--resume from a checkpoint without the newer keys: what it lacks is the flags' value") {
  const std::string dir =
      checkpoint_of("tg_resume_old", "--lr 1e-3 --min-lr 1.5e-7 --eval-tasks 3");
  drop_training_keys(dir,
                     {"train.lr_exact", "train.min_lr_exact", "train.wd_exact", "train.clip_exact",
                      "train.eval_every", "train.eval_tasks", "train.checkpoint_every"});
  // lr "0.001000" reads back as 1e-3; min_lr "0.000000" cannot say 1.5e-7: given, a value that
  // prints the same is taken; not given, 0 is (a valid floor, the nearest the file says).
  const TrainOptions given = resolve("--resume --out " + dir + " --min-lr 1.5e-7");
  CHECK(given.lr == 1e-3);
  CHECK(given.min_lr == 1.5e-7);
  CHECK(given.eval_tasks == 256);                   // not recorded: the default
  CHECK(given.eval_ns == std::vector<int64_t>{8});  // recorded
  CHECK(resolve("--resume --out " + dir).min_lr == 0);
  CHECK(refusal("--resume --out " + dir + " --lr 0.002") ==
        "--resume: the checkpoint in " + dir +
            " was trained with different settings: lr 0.001 (saved) vs 0.002 (given)");
}

TEST_CASE("--resume: a checkpoint whose settings do not read is refused, naming the key") {
  const std::string dir = checkpoint_of("tg_resume_bad", "");
  const std::string path = dir + "/" + tg::nn::kTrainingStateFile;
  tg::nn::SafetensorsFile state = tg::nn::read_safetensors(path);
  state.metadata["train.batch"] = "two\n";
  tg::nn::write_safetensors(path, state.tensors, state.metadata);
  CHECK(refusal("--resume --out " + dir) ==
        "--resume: the checkpoint in " + dir +
            ": training metadata 'train.batch': 'two?' is not an integer");
  CHECK_THROWS_AS(resolve("--resume --out " + dir), std::runtime_error);
  // Without a checkpoint the flags stand; the run itself refuses to start (exit code 1).
  const fs::path none = fs::temp_directory_path() / "tg_resume_none";
  fs::remove_all(none);
  CHECK(resolve(kTiny + " --resume --out " + none.string()).model.d == 2);
}

TEST_CASE("a TrainingRun refuses to resume with settings that differ from its checkpoint") {
  const std::string dir = checkpoint_of("tg_resume_run", "--weight-head average");
  TrainOptions o = resolve("--resume --out " + dir);
  o.baselines = {};
  {
    tg::gmm::TrainingRun run(o);
    run.resume();  // the checkpoint's settings: accepted
    CHECK(run.steps_done() == 2);
  }
  TrainOptions other = o;
  other.model.weight_head = WeightHead::Slot;  // the same parameters, wired differently
  other.lr = 0.01;
  other.steps = 10;  // may differ
  tg::gmm::TrainingRun run(other);
  CHECK_THROWS_WITH_AS(run.resume(),
                       ("--resume: the checkpoint in " + dir +
                        " was trained with different settings: weight_head average (saved) vs "
                        "slot (given); train.lr_exact 0.003 (saved) vs 0.01 (given)")
                           .c_str(),
                       std::runtime_error);
  CHECK(run.steps_done() == 0);
}
