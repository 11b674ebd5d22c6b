// test_bad_input_cli.cpp — tools/eval, tools/verify and tools/baselines on bad input, run as
// programs: an unknown flag, a flag without its value or with a value it cannot take, a missing
// checkpoint and checkpoint files cut short or corrupted in their header. Each is refused with
// exit code 2, one line on stderr ("PROGRAM: ...") naming the flag or the file and the reason,
// and nothing on stdout. (The shift flags' refusals are in test_shift_cli.cpp, tools/train's in
// test_train_cli.cpp, tools/fit's in tests/gmm/test_fit_cli.cpp.)
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "run_program.h"

namespace fs = std::filesystem;
using tg::testing::Run;

using tg::testing::expect_refused;

namespace {

// The model file of a tiny checkpoint (d = 2, K in {2, 3}), trained for one step; once per
// test process.
fs::path tiny_model_file() {
  static const fs::path dir = fs::temp_directory_path() / "tg_bad_input_model";
  static bool written = false;
  if (!written) {
    fs::remove_all(dir);
    const Run r = tg::testing::run_program(
        "train",
        "--d 2 --ks 2,3 --embd 16 --layers 1 --heads 2 --n 8 --batch 2 --eval-n 8 "
        "--eval-tasks 4 --positions 8 --threads 1 --steps 1 --out " +
            dir.string());
    REQUIRE(r.exit_code == 0);
    written = true;
  }
  return dir / "model.safetensors";
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `bytes` written to a file of its own; its path.
std::string write_bytes(const std::string& name, const std::string& bytes) {
  const fs::path path = fs::temp_directory_path() / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

// `text` with its first `from` replaced by `to` (which must be there).
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

Run run_eval(const std::string& args) {
  return tg::testing::run_program("eval", args + " --tasks 1 --n 8 --threads 1");
}

}  // namespace

TEST_CASE("tools/eval, tools/verify, tools/baselines: an unknown flag exits 2 naming it") {
  for (const char* program : {"eval", "verify", "baselines"}) {
    CAPTURE(program);
    const std::string checkpoint = program == std::string("eval") ? "--checkpoint m " : "";
    expect_refused(tg::testing::run_program(program, checkpoint + "--bogus"), program,
                   "The following argument was not expected: --bogus");
    expect_refused(tg::testing::run_program(program, checkpoint + "stray"), program,
                   "The following argument was not expected: stray");
  }
}

TEST_CASE("tools/verify: a flag without its value, or with one it cannot take, exits 2 naming it") {
  expect_refused(tg::testing::run_program("verify", "--knots"), "verify",
                 "--knots: 1 required INT:2..100000 missing");
  expect_refused(tg::testing::run_program("verify", "--d0 x"), "verify",
                 "--d0: 'x' is not a valid number");
  expect_refused(tg::testing::run_program("verify", "--steps 0"), "verify",
                 "--steps: Value 0 not in range 1 to 100");
  expect_refused(tg::testing::run_program("verify", "--threads -2"), "verify",
                 "--threads: must be >= 0, got -2");
  expect_refused(tg::testing::run_program("verify", "--plot figure.pdf"), "verify",
                 "--plot: FILE must end in .png or .svg");
}

TEST_CASE(
    "tools/baselines: a flag without its value, or with one it cannot take, exits 2 naming it") {
  expect_refused(tg::testing::run_program("baselines", "--tasks"), "baselines",
                 "--tasks: 1 required INT:POSITIVE missing");
  expect_refused(tg::testing::run_program("baselines", "--tasks 1.5"), "baselines",
                 "--tasks: '1.5' is not a valid number");
  // The bound in words, not CLI11's range up to the largest double.
  const Run zero = tg::testing::run_program("baselines", "--tasks 0");
  expect_refused(zero, "baselines", "--tasks: must be > 0, got 0");
  CHECK(zero.err.size() < 80);
  expect_refused(tg::testing::run_program("baselines", "--restarts -1"), "baselines",
                 "--restarts: must be > 0, got -1");
  expect_refused(tg::testing::run_program("baselines", "--threads -1"), "baselines",
                 "--threads: must be >= 0, got -1");
  expect_refused(tg::testing::run_program("baselines", "--n 16,0"), "baselines",
                 "--n: '16,0' is not a comma-separated list of positive integers");
  expect_refused(tg::testing::run_program("baselines", "--methods em-paper,em"), "baselines",
                 "--methods: unknown method 'em' (expected em-paper, em-strong,");
}

TEST_CASE("tools/eval: bad flags, and a missing checkpoint named by its file") {
  expect_refused(tg::testing::run_program("eval", ""), "eval", "--checkpoint is required");
  expect_refused(tg::testing::run_program("eval", "--checkpoint"), "eval",
                 "--checkpoint: 1 required TEXT missing");
  const std::string model = "--checkpoint " + tiny_model_file().string();
  expect_refused(run_eval(model + " --tasks x"), "eval", "--tasks: 'x' is not a valid number");
  expect_refused(run_eval(model + " --methods tgmm,em"), "eval", "--methods: unknown method 'em'");

  const fs::path nowhere = fs::temp_directory_path() / "tg_no_such_run" / "model.safetensors";
  expect_refused(run_eval("--checkpoint " + nowhere.string()), "eval",
                 nowhere.string() + ": no such file");
  // A run directory without its model file: the file it looked for.
  const fs::path empty_run = fs::temp_directory_path() / "tg_empty_run";
  fs::create_directories(empty_run);
  expect_refused(run_eval("--checkpoint " + empty_run.string()), "eval",
                 (empty_run / "model.safetensors").string() + ": no such file");
}

TEST_CASE("tools/eval: a model file cut short or corrupted is refused with the file and reason") {
  const std::string good = read_bytes(tiny_model_file());
  REQUIRE(good.size() > 1000);
  const Run ok = run_eval("--checkpoint " + tiny_model_file().string());
  REQUIRE(ok.exit_code == 0);  // the file these are made from evaluates

  struct Bad {
    const char* name;
    std::string bytes;
    const char* reason;
  };
  const Bad bad[] = {
      {"empty", "", "file is 0 bytes, too short for the 8-byte header length"},
      {"four-bytes", good.substr(0, 4), "too short for the 8-byte header length"},
      {"half", good.substr(0, good.size() / 2), "go past the end of the data section"},
      {"last-byte-cut", good.substr(0, good.size() - 1), "go past the end of the data section"},
      {"byte-added", good + '\0', "trailing garbage: 1 bytes after the last tensor"},
      {"header-not-json", replaced(good, "{", "X"), "header is not valid JSON"},
      {"not-tgmm", replaced(good, "\"model\":\"tgmm\"", "\"model\":\"tgmx\""),
       "not a TGMM checkpoint"},
      {"bad-number", replaced(good, "\"d\":\"2\"", "\"d\":\"x\""),
       "a numeric field in the metadata is malformed"},
      {"wrong-shape", replaced(good, "[3,128]", "[1,384]"),
       "tensor 'task_embedding.weight' is f32 (1,384) in the file, f32 (3,128) in the module"},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.name);
    const std::string path = write_bytes(std::string("tg_bad_") + b.name + ".safetensors", b.bytes);
    const Run r = run_eval("--checkpoint " + path);
    expect_refused(r, "eval", b.reason);
    CHECK(r.err.find(path) != std::string::npos);
  }
}
