// test_train_cli.cpp — tools/train as a program: bad flags and configs give one line and exit 2,
// a TOML config is read (command-line flags win), a short run writes its files (the plots need
// gnuplot on PATH); without gnuplot, or with one that fails, the run still succeeds and says so.
// --resume with settings that contradict the checkpoint exits 2 naming them; SIGTERM and SIGINT
// stop a run with exit code 130 and a checkpoint at the step reached, and `--resume` alone then
// finishes it exactly as a run that never stopped (its log, baselines once, and model file's
// bytes), whether stopped before the first evaluation or after one.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nn/checkpoint.h"
#include "run_program.h"
#include "tensor/device.h"

namespace fs = std::filesystem;

namespace {

using tg::testing::Run;

Run run_train(const std::string& args, const std::string& environment = "") {
  return tg::testing::run_program("train", args, environment);
}

std::string write_file(const std::string& name, const std::string& text) {
  const fs::path path = fs::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

const char* kTiny =
    "--d 2 --ks 2,3 --embd 16 --layers 1 --heads 2 --n 8 --batch 2 --eval-n 8 --eval-tasks 4 "
    "--positions 8 --threads 1";

// The lines of train.jsonl of one type ("step": those with a loss; "eval": the evaluations),
// without wall-clock times.
std::vector<std::string> logged(const fs::path& dir, const std::string& type = "step") {
  std::vector<std::string> lines;
  std::ifstream in(dir / "train.jsonl");
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j.value("type", std::string("step")) != type || (type == "step" && !j.contains("loss"))) {
      continue;
    }
    j.erase("seconds");
    if (j.contains("records")) {
      for (auto& record : j["records"]) record.erase("seconds_per_task");
    }
    lines.push_back(j.dump());
  }
  return lines;
}

std::string file_bytes(const fs::path& path) {
  std::stringstream bytes;
  bytes << std::ifstream(path, std::ios::binary).rdbuf();
  return bytes.str();
}

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
      {"--covariance full", "train: unknown covariance 'full' (expected unit or diag)\n"},
      {"--ks 2,4 --k-max 3", "train: --k-max 3 is below K=4 of --ks\n"},
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
  for (const char* f :
       {"model.safetensors", "training_state.safetensors", "train.jsonl", "eval.json", "loss.png",
        "loss.svg", "error_vs_step.png", "error_vs_step.svg"}) {
    CHECK_MESSAGE(fs::exists(out / f), f);
  }
  std::ifstream png(out / "error_vs_step.png", std::ios::binary);
  std::string signature(8, '\0');
  png.read(signature.data(), 8);
  CHECK(signature == "\x89PNG\r\n\x1a\n");
  CHECK(r.err.empty());  // gnuplot drew every plot

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

TEST_CASE("tools/train --help: every setting with its type and default, exit code 0") {
  const Run r = run_train("--help");
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  for (const char* line : {"--d INT [8]",
                           "--ks INT,... [2,3,4,5]",
                           "--embd INT [32]",
                           "--layers INT [4]",
                           "--heads INT [4]",
                           "--backbone gpt2|set [set]",
                           "--weight-head average|slot [slot]",
                           "--n INT [32]",
                           "--batch INT [8]",
                           "--steps INT [27500]",
                           "--lr FLOAT [0.003]",
                           "--min-lr FLOAT [0.0001]",
                           "--warmup INT [200]",
                           "--schedule cosine|constant [cosine]",
                           "--clip FLOAT [1]",
                           "--loss sorted|hungarian [hungarian]",
                           "--eval-every INT [2000]",
                           "--eval-n INT,... [64]",
                           "--eval-tasks INT [256]",
                           "--checkpoint-every INT [500]",
                           "--out DIR [runs/default]"}) {
    CHECK_MESSAGE(r.out.find(line) != std::string::npos, line);
  }
}

TEST_CASE("tools/train: flag over config file over --recipe over default, end to end") {
  const fs::path out = fs::temp_directory_path() / "tg_train_cli_precedence";
  fs::remove_all(out);
  const std::string config = write_file("tg_precedence.toml", "lr = 0.002\nembd = 32\n");
  // The recipe says gpt2, average head, sorted loss, constant lr 1e-3, D = 128, 64 tasks per K;
  // the config says lr 0.002 and D = 32; the flags say D = 16, 2 tasks per K (kTiny).
  const Run r = run_train(std::string(kTiny) + " --recipe paper --config " + config +
                          " --steps 2 --out " + out.string());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("D=16, L=1, H=2, gpt2 backbone, average weight head, sorted loss; 2 tasks "
                   "per K x 2 K, N <= 8; constant lr 0.002") != std::string::npos);
}

TEST_CASE("tools/train exit codes: 1 when training diverges or cannot resume") {
  const fs::path out = fs::temp_directory_path() / "tg_train_cli_codes";
  fs::remove_all(out);
  Run r = run_train(std::string(kTiny) + " --steps 20 --lr 1e30 --clip 0 --warmup 0 " +
                    "--schedule constant --out " + out.string());
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("stopped, the last checkpoint is kept\n") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);

  fs::remove_all(out);
  r = run_train(std::string(kTiny) + " --resume --out " + out.string());
  CHECK(r.exit_code == 1);
  CHECK(r.err == "train: --resume: no checkpoint in " + out.string() + "\n");

  // A checkpoint that does not read: exit code 1, the file and the reason in one line.
  r = run_train(std::string(kTiny) + " --steps 1 --eval-every 0 --out " + out.string());
  REQUIRE(r.exit_code == 0);
  std::ofstream(out / "training_state.safetensors", std::ios::trunc) << "garbage";
  r = run_train("--resume --out " + out.string());
  CHECK(r.exit_code == 1);
  CHECK(r.err.rfind("train: ", 0) == 0);
  CHECK(r.err.find("training_state.safetensors") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

TEST_CASE("tools/train --resume: contradicting settings exit 2 in one line; the same run on") {
  const fs::path out = fs::temp_directory_path() / "tg_train_cli_resume";
  const fs::path straight = fs::temp_directory_path() / "tg_train_cli_resume_straight";
  fs::remove_all(out);
  fs::remove_all(straight);
  // --warmup 2: steps 1-3 have the same rates in a 3-step and a 6-step cosine schedule, so a
  // 3-step run extended to 6 equals a 6-step run (the schedule follows --steps, train_flags.h).
  const std::string run =
      std::string(kTiny) + " --weight-head average --lr 1e-3 --warmup 2 --eval-every 0";
  Run r = run_train(run + " --steps 3 --out " + out.string());
  REQUIRE(r.exit_code == 0);

  r = run_train("--resume --out " + out.string() + " --lr 0.003 --loss sorted");
  CHECK(r.exit_code == 2);
  CHECK(r.err == "train: --resume: the checkpoint in " + out.string() +
                     " was trained with different settings: lr 0.001 (saved) vs 0.003 (given); "
                     "loss hungarian (saved) vs sorted (given)\n");
  CHECK(r.out.empty());
  const std::string config = write_file("tg_train_cli_resume.toml", "weight-head = \"slot\"\n");
  r = run_train("--resume --out " + out.string() + " --config " + config);
  CHECK(r.exit_code == 2);
  CHECK(r.err == "train: --resume: the checkpoint in " + out.string() +
                     " was trained with different settings: weight-head average (saved) vs slot "
                     "(given)\n");

  // The same settings again, and a longer run: accepted, and the same as one run of 6 steps.
  r = run_train(run + " --resume --steps 6 --out " + out.string());
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("resumed from " + out.string() + " at step 3\n", 0) == 0);
  r = run_train(run + " --steps 6 --out " + straight.string());
  REQUIRE(r.exit_code == 0);
  CHECK(logged(out) == logged(straight));
  CHECK(logged(out).size() == 6);
  CHECK(file_bytes(out / "model.safetensors") == file_bytes(straight / "model.safetensors"));
  // The baselines scored again at step 6 are those logged at step 3: not logged twice. On other
  // evaluation tasks (--eval-tasks may change on resume) they are new, and logged.
  CHECK(logged(out, "baselines").size() == 1);
  r = run_train("--resume --steps 7 --eval-tasks 3 --out " + out.string());
  CHECK(r.exit_code == 0);
  const std::vector<std::string> baselines = logged(out, "baselines");
  REQUIRE(baselines.size() == 2);
  CHECK(nlohmann::json::parse(baselines[1])["records"].size() ==
        nlohmann::json::parse(baselines[0])["records"].size());
  CHECK(baselines[1] != baselines[0]);
}

namespace {

// Starts build/bin/train with `args` (separated by single spaces), its stdout and stderr into
// `output`; returns its process id.
pid_t start_train(const std::string& args, const fs::path& output) {
  const std::string bin = (fs::read_symlink("/proc/self/exe").parent_path() / "train").string();
  std::vector<std::string> words = {bin};
  std::stringstream items(args);
  for (std::string word; std::getline(items, word, ' ');) words.push_back(word);
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  const std::string out = output.string();
  const pid_t pid = fork();
  if (pid == 0) {  // only async-signal-safe calls from here on
    const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// A run long enough to be stopped part way: 1000 steps, evaluated every 200, checkpoints every
// 300, with a non-default weight head and learning rate. No --threads: a bare --resume takes the
// default, like this run.
const std::string kStoppable =
    "--d 2 --ks 2,3 --embd 16 --layers 1 --heads 2 --n 8 --batch 2 --eval-n 8 --eval-tasks 4 "
    "--positions 8 --weight-head average --lr 1e-3 --steps 1000 --eval-every 200 "
    "--checkpoint-every 300";

// The uninterrupted run of kStoppable, once per test process.
const fs::path& straight_run() {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / "tg_train_cli_straight";
    fs::remove_all(d);
    const Run r = run_train(kStoppable + " --out " + d.string());
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return d;
  }();
  return dir;
}

// kStoppable stopped by `signal` once train.jsonl holds `logged_first` (a step's line, or the first
// evaluation's), then resumed with --resume alone: exit code 130, a checkpoint at the step
// reached, and a resumed run whose log (steps, evaluations, the baselines once) and final model
// file are those of the run that never stopped.
void stop_and_resume(int signal, const std::string& name, const std::string& logged_first) {
  const fs::path out = fs::temp_directory_path() / ("tg_train_cli_" + name);
  fs::remove_all(out);
  const fs::path console = fs::temp_directory_path() / ("tg_train_cli_" + name + ".txt");
  const pid_t pid = start_train(kStoppable + " --out " + out.string(), console);
  REQUIRE(pid > 0);
  const fs::path log = out / "train.jsonl";
  for (int i = 0; i < 30000 && file_bytes(log).find(logged_first) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE(kill(pid, signal) == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(fs::exists(out / "model.safetensors"));
  CHECK(fs::exists(out / "training_state.safetensors"));

  // "train: stopped at step N; checkpoint saved in DIR (continue with --resume)", and the
  // checkpoint and the log are at step N.
  const std::string said = file_bytes(console);
  const std::string stopped = "train: stopped at step ";
  const size_t at = said.find(stopped);
  REQUIRE(at != std::string::npos);
  const int64_t step = std::stoll(said.substr(at + stopped.size()));
  CHECK(said.find("; checkpoint saved in " + out.string() + " (continue with --resume)\n", at) !=
        std::string::npos);
  CAPTURE(step);
  CHECK(step > 0);
  CHECK(step < 1000);
  CHECK(tg::nn::read_checkpoint(out.string()).step == step);
  const std::vector<std::string> before = logged(out);
  REQUIRE(!before.empty());
  CHECK(nlohmann::json::parse(before.back())["step"] == step);

  const Run resumed = run_train("--resume --out " + out.string());
  CHECK(resumed.exit_code == 0);
  CHECK(resumed.out.rfind(
            "resumed from " + out.string() + " at step " + std::to_string(step) + "\n", 0) == 0);
  const fs::path& straight = straight_run();
  CHECK(logged(out) == logged(straight));
  CHECK(logged(out).size() == 1000);
  CHECK(logged(out, "eval") == logged(straight, "eval"));
  CHECK(logged(out, "eval").size() == 5);  // at 200, 400, 600, 800 and the end
  CHECK(logged(out, "baselines") == logged(straight, "baselines"));
  CHECK(logged(out, "baselines").size() == 1);
  CHECK(file_bytes(out / "model.safetensors") == file_bytes(straight / "model.safetensors"));
}

}  // namespace

TEST_CASE("tools/train stopped by SIGTERM: exit 130, a checkpoint, a bare --resume is exact") {
  stop_and_resume(SIGTERM, "sigterm", "\"step\":");  // before the first evaluation
}

TEST_CASE("tools/train stopped by SIGINT: exit 130, a checkpoint, a bare --resume is exact") {
  stop_and_resume(SIGINT, "sigint", "\"type\":\"eval\"");  // after an evaluation
}

namespace {

// A folder for PATH holding only `gnuplot` with the given shell body, or nothing (body empty).
std::string path_with_gnuplot(const std::string& name, const std::string& body) {
  const fs::path dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  if (!body.empty()) {
    std::ofstream(dir / "gnuplot") << "#!/bin/sh\n" << body << "\n";
    fs::permissions(dir / "gnuplot", fs::perms::owner_all);
  }
  return "PATH=" + dir.string();
}

// A run with an evaluation at step 1 and the final one at step 2: the plots are drawn twice.
const std::string kEvaluatedTwice = std::string(kTiny) + " --steps 2 --eval-every 1";

}  // namespace

TEST_CASE("tools/train without gnuplot: one line saying the plots were skipped; the run succeeds") {
  const fs::path out = fs::temp_directory_path() / "tg_train_no_gnuplot";
  fs::remove_all(out);
  const Run r = run_train(kEvaluatedTwice + " --out " + out.string(),
                          path_with_gnuplot("tg_path_without_gnuplot", ""));
  CHECK(r.exit_code == 0);
  CHECK(r.err ==
        "train: plots: skipped: gnuplot is not on PATH (Debian package gnuplot-nox); training goes "
        "on\n");
  CHECK(r.out.find("Final evaluation") != std::string::npos);
  CHECK(fs::exists(out / "model.safetensors"));
  CHECK(fs::exists(out / "eval.json"));
  CHECK(!fs::exists(out / "loss.png"));
}

TEST_CASE("tools/train with a failing gnuplot: one line per drawing; the run succeeds") {
  const fs::path out = fs::temp_directory_path() / "tg_train_bad_gnuplot";
  fs::remove_all(out);
  const Run r =
      run_train(kEvaluatedTwice + " --out " + out.string(),
                path_with_gnuplot("tg_path_bad_gnuplot", "echo 'out of ink' >&2; exit 1"));
  CHECK(r.exit_code == 0);
  const std::string line = "train: plots: gnuplot failed (exit status 1): out of ink\n";
  CHECK(r.err == line + line);
  CHECK(fs::exists(out / "model.safetensors"));
  CHECK(!fs::exists(out / "loss.png"));
  for (const auto& e : fs::directory_iterator(out)) {  // no work folder left behind
    CHECK(e.path().filename().string().rfind(".gnuplot", 0) == std::string::npos);
  }
}
