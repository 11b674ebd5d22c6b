// test_train_cli.cpp — tools/train as a program: bad flags and configs give one line and exit 2,
// a TOML config is read (command-line flags win), a short run writes its files.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "run_program.h"
#include "tensor/device.h"

namespace fs = std::filesystem;

namespace {

using tg::testing::Run;

Run run_train(const std::string& args) { return tg::testing::run_program("train", args); }

std::string write_file(const std::string& name, const std::string& text) {
  const fs::path path = fs::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

const char* kTiny =
    "--d 2 --ks 2,3 --embd 16 --layers 1 --heads 2 --n 8 --batch 2 --eval-n 8 --eval-tasks 4 "
    "--positions 8 --threads 1";

}  // namespace

TEST_CASE("tools/train --device cuda without a usable GPU: one line, exit code 2") {
  if (tg::cuda_available()) {
    MESSAGE("skipped: a CUDA device is present (tests/cuda covers training on it)");
    return;
  }
  const Run r = run_train(std::string(kTiny) + " --steps 1 --device cuda --out " +
                          (fs::temp_directory_path() / "tg_train_cuda").string());
  CHECK(r.exit_code == 2);
  const std::string expected = tg::cuda_built()
                                   ? "train: --device cuda: no CUDA device is available on this "
                                     "machine\n"
                                   : "train: --device cuda: tgmm was built without CUDA (configure "
                                     "with nvcc on the PATH and -DTG_WITH_CUDA=ON)\n";
  CHECK(r.err == expected);
}

TEST_CASE("tools/train: bad flags and settings give one line on stderr and exit code 2") {
  const std::pair<std::string, std::string> cases[] = {
      {"--layers x", "train: --layers: 'x' is not a valid number\n"},
      {"--ks 2,,3", "train: --ks: '2,,3' is not a comma-separated list of integers\n"},
      {"--backbone rnn", "train: TGMM config: backbone must be gpt2 or set\n"},
      {"--loss l1", "train: unknown loss 'l1' (expected sorted or hungarian)\n"},
      {"--recipe fast", "train: --recipe: unknown recipe 'fast' (expected paper)\n"},
      {"--device tpu", "train: --device: 'tpu' (expected cpu or cuda)\n"},
      {"--embd 30 --heads 4", "train: TGMM config: embd must be a positive multiple of heads\n"},
      {"--config /nonexistent.toml", ""},
      {"--bogus 1", ""},
  };
  for (const auto& [args, message] : cases) {
    CAPTURE(args);
    const Run r = run_train(args);
    CHECK(r.exit_code == 2);
    if (!message.empty()) CHECK(r.err == message);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.out.empty());
  }
}

TEST_CASE("tools/train: a TOML config is read, unknown keys refused, flags override it") {
  const std::string bad = write_file("tg_bad.toml", "layers = 2\nwidth = 3\n");
  Run r = run_train("--config " + bad);
  CHECK(r.exit_code == 2);
  CHECK(r.err == "train: config " + bad + ": unknown key 'width'\n");

  const fs::path out = fs::temp_directory_path() / "tg_train_cli_run";
  fs::remove_all(out);
  const std::string good =
      write_file("tg_good.toml", "steps = 999\nks = [2, 3]\nbackbone = \"set\"\nlr = 0.002\n");
  r = run_train(std::string(kTiny) + " --config " + good + " --steps 3 --out " + out.string());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("set backbone") != std::string::npos);  // from the config
  CHECK(r.out.find("step 3/3") != std::string::npos);      // the flag beat the config's 999
  for (const char* f : {"model.safetensors", "training_state.safetensors", "train.jsonl",
                        "eval.json", "loss.png", "error_vs_step.png"}) {
    CHECK_MESSAGE(fs::exists(out / f), f);
  }

  // The trained model estimates a user's points through tools/fit.
  const fs::path fit = fs::read_symlink("/proc/self/exe").parent_path() / "fit";
  const std::string csv = write_file("tg_fit_tgmm.csv", "a,b\n0,0\n0.5,0.2\n6,6\n6.3,5.8\n");
  const std::string json_out = (fs::temp_directory_path() / "tg_fit_tgmm.json").string();
  const int status = std::system((fit.string() + " --csv " + csv + " --k 2 --method tgmm --json " +
                                  "--checkpoint " + out.string() + " > " + json_out)
                                     .c_str());
  CHECK(WEXITSTATUS(status) == 0);
  std::stringstream js;
  js << std::ifstream(json_out).rdbuf();
  CHECK(js.str().find("\"method\":\"tgmm\"") != std::string::npos);
  CHECK(js.str().find("\"weights\"") != std::string::npos);
}
