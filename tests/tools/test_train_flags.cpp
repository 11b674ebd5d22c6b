// test_train_flags.cpp — the training settings as typed flags (tools/lib/train_flags.h), parsed
// in-process: the defaults are the default run, where a setting comes from (flag > config file >
// recipe > default), TOML config keys (lists, floats, booleans, unknown keys, syntax errors,
// values of the wrong kind, the valid seeds of the config fuzz corpus), the help listing every
// setting with its default, and the integer-list parser all programs use.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "nn/distributed.h"
#include "tools/lib/cli.h"
#include "tools/lib/train_flags.h"
#include "tools/train_flags_testing.h"

namespace fs = std::filesystem;
using tg::gmm::LossKind;
using tg::gmm::TrainOptions;
using tg::gmm::WeightHead;
using tg::testing::refusal;
using tg::testing::resolve;

namespace {

std::string write_toml(const std::string& name, const std::string& text) {
  const fs::path path = fs::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace

TEST_CASE("the options' defaults are the default run, and no flags change them") {
  const TrainOptions o;
  CHECK(o.model.d == 8);
  CHECK(o.model.ks == std::vector<int64_t>{2, 3, 4, 5});
  CHECK(o.model.embd == 32);
  CHECK(o.model.layers == 4);
  CHECK(o.model.heads == 4);
  CHECK(o.model.backbone == "set");
  CHECK(o.model.weight_head == WeightHead::Slot);
  CHECK(o.n == 32);
  CHECK(o.batch == 8);
  CHECK(o.steps == 27500);
  CHECK(o.lr == 3e-3);
  CHECK(o.min_lr == 1e-4);
  CHECK(o.warmup == 200);
  CHECK(o.schedule == "cosine");
  CHECK(o.clip == 1.0);
  CHECK(o.loss == LossKind::Hungarian);
  CHECK(o.eval_every == 2000);
  CHECK(o.eval_ns == std::vector<int64_t>{64});
  CHECK(o.eval_tasks == 256);
  CHECK(o.checkpoint_every == 500);
  CHECK(o.out == "runs/default");
  CHECK(o.threads == tg::gmm::default_threads());

  const TrainOptions flags = resolve("");
  CHECK(flags.to_metadata() == o.to_metadata());
  CHECK(flags.model.to_metadata() == o.model.to_metadata());
  CHECK(flags.threads == o.threads);
  CHECK(flags.out == o.out);
  CHECK_FALSE(flags.resume);
}

namespace {
// Sets (or, given nullptr, removes) an environment variable for one scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};
}  // namespace

TEST_CASE("every core by default only when a waiting thread's spin is bounded") {
  using tg::gmm::waits_are_bounded;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Under mpirun the launcher's share of the cores decides instead (tested in tests/mpi).
  const bool by_launcher = tg::nn::launch_from_environment().by_launcher;
  {
    ScopedEnv policy("OMP_WAIT_POLICY", nullptr), spin("GOMP_SPINCOUNT", nullptr);
    CHECK_FALSE(waits_are_bounded());  // OpenMP's own default spins 300,000 times
    if (!by_launcher) CHECK(tg::gmm::default_threads() == 1);
  }
  {
    ScopedEnv policy("OMP_WAIT_POLICY", nullptr), spin("GOMP_SPINCOUNT", "1000");  // tools/train
    CHECK(waits_are_bounded());
    if (!by_launcher) CHECK(tg::gmm::default_threads() == cores);
  }
  {
    ScopedEnv policy("OMP_WAIT_POLICY", "Passive"), spin("GOMP_SPINCOUNT", nullptr);
    CHECK(waits_are_bounded());
  }
  {
    ScopedEnv policy("OMP_WAIT_POLICY", "active"), spin("GOMP_SPINCOUNT", "1000");
    CHECK_FALSE(waits_are_bounded());  // active wins over a spin count: threads never sleep
    if (!by_launcher) CHECK(tg::gmm::default_threads() == 1);
  }
  {
    ScopedEnv policy("OMP_WAIT_POLICY", nullptr), spin("GOMP_SPINCOUNT", "infinite");
    CHECK_FALSE(waits_are_bounded());
  }
}

TEST_CASE("each flag sets its field, typed") {
  const TrainOptions o = resolve(
      "--d 3 --ks 2,4 --embd 32 --layers 2 --heads 8 --backbone gpt2 --weight-head average "
      "--n 32 --batch 5 --steps 7 --lr 0.0025 --min-lr 1e-5 --wd 0.01 --warmup 3 "
      "--schedule constant --clip 0.5 --loss sorted --seed 9 --threads 1 --eval-every 4 "
      "--eval-n 16,32 --eval-tasks 8 --checkpoint-every 2 --out /tmp/x --resume --dtype f64 "
      "--replica-check-every 7 --n-start 16");
  CHECK(o.model.d == 3);
  CHECK(o.model.ks == std::vector<int64_t>{2, 4});
  CHECK(o.model.embd == 32);
  CHECK(o.model.layers == 2);
  CHECK(o.model.heads == 8);
  CHECK(o.model.backbone == "gpt2");
  CHECK(o.model.weight_head == WeightHead::Average);
  CHECK(o.model.n_positions == 128);  // the default covers --n and --eval-n already
  CHECK(o.n == 32);
  CHECK(o.n_start == 16);
  CHECK(o.batch == 5);
  CHECK(o.steps == 7);
  CHECK(o.lr == 0.0025);
  CHECK(o.min_lr == 1e-5);
  CHECK(o.wd == 0.01);
  CHECK(o.warmup == 3);
  CHECK(o.schedule == "constant");
  CHECK(o.clip == 0.5);
  CHECK(o.loss == LossKind::Sorted);
  CHECK(o.seed == 9);
  CHECK(o.threads == 1);
  CHECK(o.eval_every == 4);
  CHECK(o.eval_ns == std::vector<int64_t>{16, 32});
  CHECK(o.eval_tasks == 8);
  CHECK(o.checkpoint_every == 2);
  CHECK(o.out == "/tmp/x");
  CHECK(o.resume);
  CHECK(o.model.dtype == tg::DType::F64);
  CHECK(o.replica_check_every == 7);
}

TEST_CASE(
    "a setting comes from its flag, else the config file, else the recipe, else the default") {
  const std::string config =
      write_toml("tg_flags_precedence.toml", "layers = 2\nembd = 24\nlr = 0.002\n");
  const TrainOptions o = resolve("--recipe paper --config " + config + " --layers 3");
  CHECK(o.model.layers == 3);                             // flag over config (2) and recipe (12)
  CHECK(o.model.embd == 24);                              // config over recipe (128)
  CHECK(o.lr == 0.002);                                   // config over recipe (1e-3)
  CHECK(o.model.backbone == "gpt2");                      // recipe over default (set)
  CHECK(o.batch == 64);                                   // recipe
  CHECK(o.eval_ns == std::vector<int64_t>{32, 64, 128});  // recipe
  CHECK(o.model.d == 8);                                  // default: neither set it
  CHECK(o.min_lr == 1e-4);                                // default

  // Without the recipe, the same config and flag over the defaults.
  const TrainOptions plain = resolve("--config " + config + " --layers 3");
  CHECK(plain.model.layers == 3);
  CHECK(plain.model.embd == 24);                          // config over default (32)
  CHECK(plain.model.backbone == "set");
  CHECK(plain.batch == 8);

  // The paper recipe alone: exactly apply_paper_recipe over the defaults.
  TrainOptions paper;
  tg::gmm::apply_paper_recipe(paper);
  const TrainOptions recipe = resolve("--recipe paper");
  CHECK(recipe.to_metadata() == paper.to_metadata());
  CHECK(recipe.model.to_metadata() == paper.model.to_metadata());
}

TEST_CASE("config keys: TOML lists, floats, booleans; the positions grow unless given") {
  const std::string config = write_toml(
      "tg_flags_types.toml",
      "ks = [2, 3]\neval-n = [16, 200]\nmin-lr = 1.5e-5\nresume = true\nbackbone = \"gpt2\"\n"
      "weight-head = \"average\"\nseed = 12\n");
  CLI::App app;
  tg::tools::TrainFlags flags(app);
  app.parse("--config " + config, false);
  const TrainOptions o = flags.resolve();
  CHECK(o.model.ks == std::vector<int64_t>{2, 3});
  CHECK(o.eval_ns == std::vector<int64_t>{16, 200});
  CHECK(o.min_lr == 1.5e-5);
  CHECK(o.resume);
  CHECK(o.model.backbone == "gpt2");
  CHECK(o.model.weight_head == WeightHead::Average);
  CHECK(o.seed == 12);
  CHECK(o.model.n_positions == 200);  // stretched to the longest evaluation N
  CHECK(flags.given("ks"));           // a config key counts as given
  CHECK_FALSE(flags.given("layers"));

  const std::string fixed = write_toml("tg_flags_positions.toml", "positions = 64\n");
  CHECK(refusal("--backbone gpt2 --config " + fixed + " --n 32 --eval-n 100") ==
        "--eval-n 100 exceeds the model's positions");
}

TEST_CASE("--resume with an --out the system cannot look up is a run without a checkpoint") {
  // Found by fuzz_config: a path too long for stat() threw std::filesystem::filesystem_error.
  const std::string too_long = "/nonexistent/" + std::string(5000, 'b');
  TrainOptions o;
  CHECK_NOTHROW(o = resolve("--resume --out " + too_long));
  CHECK(o.out == too_long);
}

TEST_CASE("integers are decimal: a leading zero is not octal, a leading plus is allowed") {
  CHECK(resolve("--steps 010").steps == 10);
  CHECK(resolve("--layers +3").model.layers == 3);
  CHECK(resolve("--seed 18446744073709551615").seed == 18446744073709551615ULL);
}

TEST_CASE("bad settings are refused in one line naming the flag or the config file") {
  CHECK(refusal("--layers x") == "--layers: 'x' is not a valid number");
  CHECK(refusal("--lr 1e-3x") == "--lr: '1e-3x' is not a valid number");
  CHECK(refusal("--ks 2,,3") == "--ks: '2,,3' is not a comma-separated list of integers");
  CHECK(refusal("--eval-n 64,b") == "--eval-n: '64,b' is not a comma-separated list of integers");
  CHECK(refusal("--loss l1") == "unknown loss 'l1' (expected sorted or hungarian)");
  CHECK(refusal("--recipe fast") == "--recipe: unknown recipe 'fast' (expected paper)");
  CHECK(refusal("--device tpu") == "--device: 'tpu' (expected cpu or cuda)");
  CHECK(refusal("--batch 0") == "--batch must be >= 1");
  CHECK(refusal("--dtype f16") == "--dtype: 'f16' (expected f32 or f64)");
  CHECK(refusal("--procs 0") == "--procs: '0' is not a positive integer");
  CHECK(refusal("--replica-check-every -1") == "--replica-check-every must be >= 0");
  CHECK(refusal("--seed -1") == "--seed: '-1' is not a valid number");
  CHECK(refusal("--steps 0x10") == "--steps: '0x10' is not a valid number");
  CHECK(refusal("--n-start 1") == "--n-start must be 0 (off) or in [2, --n], got 1");
  CHECK(refusal("--n 32 --n-start 48") == "--n-start must be 0 (off) or in [2, --n], got 48");

  const std::string unknown = write_toml("tg_flags_unknown.toml", "layers = 2\nwidth = 3\n");
  CHECK(refusal("--config " + unknown) == "config " + unknown + ": unknown key 'width'");
  // Flags that are not settings are not config keys either.
  const std::string device = write_toml("tg_flags_device.toml", "device = \"cpu\"\n");
  CHECK(refusal("--config " + device) == "config " + device + ": unknown key 'device'");
  const std::string list = write_toml("tg_flags_list.toml", "ks = [2, \"three\"]\n");
  CHECK(refusal("--config " + list) == "config " + list + ": 'ks' must be a list of integers");
  const std::string value = write_toml("tg_flags_value.toml", "layers = \"four\"\n");
  CHECK(refusal("--config " + value) == "--layers: 'four' is not a valid number");
  const std::string syntax = write_toml("tg_flags_syntax.toml", "steps = 10\nlayers = [2\n");
  const std::string message = refusal("--config " + syntax);
  CHECK(message.rfind("config " + syntax + ": ", 0) == 0);
  CHECK(message.find("(line 2)") != std::string::npos);
}

TEST_CASE("--help lists every setting with its type, default and meaning") {
  CLI::App app{"train"};
  tg::tools::TrainFlags flags(app);
  const std::string help = app.help();
  const std::pair<const char*, const char*> settings[] = {
      {"--d INT", "[8]"},
      {"--ks INT,...", "[2,3,4,5]"},
      {"--embd INT", "[32]"},
      {"--layers INT", "[4]"},
      {"--heads INT", "[4]"},
      {"--positions INT", "[128]"},
      {"--backbone gpt2|set", "[set]"},
      {"--weight-head average|slot", "[slot]"},
      {"--n INT", "[32]"},
      {"--batch INT", "[8]"},
      {"--steps INT", "[27500]"},
      {"--lr FLOAT", "[0.003]"},
      {"--min-lr FLOAT", "[0.0001]"},
      {"--wd FLOAT", "[0]"},
      {"--warmup INT", "[200]"},
      {"--schedule cosine|constant", "[cosine]"},
      {"--clip FLOAT", "[1]"},
      {"--loss sorted|hungarian", "[hungarian]"},
      {"--seed UINT", "[42]"},
      {"--eval-every INT", "[2000]"},
      {"--eval-n INT,...", "[64]"},
      {"--eval-tasks INT", "[256]"},
      {"--checkpoint-every INT", "[500]"},
      {"--out DIR", "[runs/default]"},
      {"--dtype f32|f64", "[f32]"},
      {"--replica-check-every INT", "[100]"},
      {"--device cpu|cuda", "[cpu]"},
  };
  for (const auto& [flag, default_value] : settings) {
    CAPTURE(flag);
    const size_t at = help.find(std::string("  ") + flag + " " + default_value);
    REQUIRE(at != std::string::npos);
    // ... followed on the same line by a meaning.
    const std::string line = help.substr(at, help.find('\n', at) - at);
    CHECK(line.size() > std::string(flag).size() + std::string(default_value).size() + 8);
  }
  CHECK(help.find("--threads INT [" + std::to_string(tg::gmm::default_threads()) + "]") !=
        std::string::npos);
  CHECK(help.find("--resume") != std::string::npos);
  CHECK(help.find("--config FILE") != std::string::npos);
  CHECK(help.find("--recipe paper") != std::string::npos);
  // What the recipe changes, generated from apply_paper_recipe.
  CHECK(help.find("--recipe paper sets: embd=128, layers=12, backbone=gpt2") != std::string::npos);
}

TEST_CASE(
    "--covariance and --k-max: K_max is the largest K unless given; diag trains on "
    "anisotropic tasks against the diagonal EMs") {
  const TrainOptions defaults = resolve("");
  CHECK(defaults.model.covariance == tg::gmm::Covariance::Unit);
  CHECK(defaults.model.k_max == 5);
  CHECK(defaults.baselines == std::vector<std::string>{"em-paper", "em-strong", "spectral"});
  CHECK(defaults.task_config().shift == tg::gmm::Shift::None);

  const TrainOptions three = resolve("--ks 2,3,4");
  CHECK(three.model.k_max == 4);  // the official model's max(Ks)
  CHECK(three.task_config().k_max == 4);
  CHECK(resolve("--ks 3").model.k_max == 3);
  const TrainOptions wider = resolve("--ks 2,3,4 --k-max 6");
  CHECK(wider.model.k_max == 6);  // room for a larger K later
  CHECK(wider.model.readout_width() == 6 + 8);

  const TrainOptions diag = resolve("--covariance diag --ks 2,3");
  CHECK(diag.model.covariance == tg::gmm::Covariance::Diagonal);
  CHECK(diag.model.k_max == 3);
  CHECK(diag.model.readout_width() == 3 + 2 * 8);
  CHECK(diag.task_config().shift == tg::gmm::Shift::Anisotropic);
  CHECK(diag.eval_settings().shift == tg::gmm::Shift::Anisotropic);
  CHECK(diag.baselines == std::vector<std::string>{"em-paper-diag", "em-diag", "spectral"});
  CHECK(diag.model.to_metadata().at("covariance") == "diag");

  const std::string config =
      write_toml("tg_flags_covariance.toml", "covariance = \"diag\"\nk-max = 7\n");
  const TrainOptions from_file = resolve("--config " + config);
  CHECK(from_file.model.covariance == tg::gmm::Covariance::Diagonal);
  CHECK(from_file.model.k_max == 7);

  CHECK(refusal("--covariance full") == "unknown covariance 'full' (expected unit or diag)");
  CHECK(refusal("--k-max x") == "--k-max: 'x' is not a valid number");
  CHECK(refusal("--k-max 0") == "--k-max must be >= 1");
  CHECK(refusal("--ks 2,4 --k-max 3") == "--k-max 3 is below K=4 of --ks");

  CLI::App app{"train"};
  tg::tools::TrainFlags flags(app);
  const std::string help = app.help();
  CHECK(help.find("  --k-max INT [max of --ks]") != std::string::npos);
  CHECK(help.find("  --covariance unit|diag [unit]") != std::string::npos);
}

TEST_CASE("integer lists are parsed once for every program") {
  using tg::tools::cli::parse_int_list;
  CHECK(parse_int_list("2,3,4", "--ks") == std::vector<int64_t>{2, 3, 4});
  CHECK(parse_int_list("-1,0", "--ks") == std::vector<int64_t>{-1, 0});
  CHECK(parse_int_list("7", "--n", true) == std::vector<int64_t>{7});
  CHECK_THROWS_WITH(parse_int_list("2,,3", "--ks"),
                    "--ks: '2,,3' is not a comma-separated list of integers");
  CHECK_THROWS_WITH(parse_int_list("2,3x", "--ks"),
                    "--ks: '2,3x' is not a comma-separated list of integers");
  CHECK_THROWS_WITH(parse_int_list("4,0", "--n", true),
                    "--n: '4,0' is not a comma-separated list of positive integers");
  CHECK_THROWS_WITH(parse_int_list("", "--ks"), "--ks: empty list");
  CHECK(tg::tools::cli::format_int_list({2, 3, 4, 5}) == "2,3,4,5");
}

TEST_CASE("config values of the wrong kind are refused by key; what the file held is quoted") {
  auto refused = [](const std::string& name, const std::string& text) {
    const std::string path = write_toml(name, text);
    const std::string message = refusal("--config " + path);
    const std::string prefix = "config " + path + ": ";
    return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : "[" + message + "]";
  };
  CHECK(refused("tg_kind_bool.toml", "layers = true\n") == "'layers' takes INT, not a boolean");
  CHECK(refused("tg_kind_flag.toml", "resume = 1\n") == "'resume' must be true or false");
  CHECK(refused("tg_kind_flag_text.toml", "resume = \"true\"\n") ==
        "'resume' must be true or false");
  CHECK(refused("tg_kind_list.toml", "layers = [2, 3]\n") ==
        "'layers' takes one value, not a list");
  CHECK(refused("tg_kind_floats.toml", "ks = [2.0, 3.5]\n") == "'ks' must be a list of integers");
  CHECK(refused("tg_kind_nested.toml", "ks = [[2, 3]]\n") == "'ks' must be a list of integers");
  CHECK(refused("tg_kind_table.toml", "layers = { value = 2 }\n") ==
        "'layers' has an unsupported value type");
  CHECK(refused("tg_kind_date.toml", "steps = 1979-05-27\n") ==
        "'steps' has an unsupported value type");
  CHECK(refused("tg_kind_nul.toml", "out = \"runs/a\\u0000b\"\n") ==
        "'out' holds a NUL byte (\\u0000)");
  CHECK(refused("tg_kind_key.toml", "\"a\\nb\" = 1\n") == "unknown key 'a\\x0ab'");
  CHECK(refused("tg_kind_help.toml", "help = true\n") == "unknown key 'help'");
  // A value the flag refuses is quoted the same way: at most 40 bytes, \xNN for the rest.
  CHECK(refusal("--config " + write_toml("tg_kind_choice.toml", "loss = \"l\\u0001\"\n")) ==
        "--loss: 'l\\x01' (expected sorted|hungarian)");
  CHECK(refusal("--config " +
                write_toml("tg_kind_long.toml", "layers = \"" + std::string(50, '7') + "x\"\n")) ==
        "--layers: '" + std::string(40, '7') + "...' is not a valid number");
  CHECK(tg::tools::cli::quote("a\tb\xff") == "'a\\x09b\\xff'");
}

TEST_CASE("every valid seed of the config fuzz corpus is accepted as tools/train reads it") {
  const fs::path corpus = fs::path(TG_SOURCE_DIR) / "tests/fuzz/corpus/fuzz_config";
  int seeds = 0;
  for (const auto& entry : fs::directory_iterator(corpus)) {
    if (entry.path().filename().string().rfind("valid-", 0) != 0) continue;
    CAPTURE(entry.path().string());
    CHECK(refusal("--config " + entry.path().string()) == "accepted");
    ++seeds;
  }
  CHECK(seeds >= 10);
}
