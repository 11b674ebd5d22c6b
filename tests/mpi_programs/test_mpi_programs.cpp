// test_mpi_programs.cpp — build/bin/train started by mpirun, as a user starts it: P = 1, 2, 3
// processes print the losses of one process and write the same files (f32 to 1e-4 relative over
// 20 steps, f64 to 1e-10); a process killed mid-run ends the job with a non-zero exit and a
// message naming it, and the checkpoint it leaves continues with another P on the one-process
// trajectory; settings that differ between processes are refused in one line (exit 2); --procs
// is checked; tools/bench train as P processes reports its scaling. mpirun gets --oversubscribe (3
// processes on 2 cores), --bind-to none and the variables that let it run as root, from here.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nn/safetensors.h"

namespace fs = std::filesystem;

namespace {

struct Run {
  int exit_code = -1;
  std::string out, err;
};

fs::path bin_dir() { return fs::read_symlink("/proc/self/exe").parent_path(); }
fs::path scratch(const std::string& name) {
  return fs::temp_directory_path() / ("tg_mpiprog_" + name);
}

std::string read_text(const fs::path& path) {
  std::stringstream s;
  s << std::ifstream(path).rdbuf();
  return s.str();
}

// mpirun with what it needs on this machine, in front of `rest`.
std::string mpirun(int procs) {
  return std::string("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ") + TG_MPIRUN +
         " -np " + std::to_string(procs) + " --oversubscribe --bind-to none ";
}

std::string train() { return (bin_dir() / "train").string(); }

// `command` through the shell, its exit code and output.
Run shell(const std::string& command) {
  const fs::path out = scratch("out.txt"), err = scratch("err.txt");
  const int status = std::system((command + " >" + out.string() + " 2>" + err.string()).c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(out), read_text(err)};
}

const char* kTiny =
    "--d 2 --ks 2,3,4 --embd 16 --layers 1 --heads 2 --n 8 --batch 3 --eval-n 8 --eval-tasks 5 "
    "--positions 8 --threads 1 --eval-every 10";

// train.jsonl's step lines, by step.
std::map<int64_t, nlohmann::json> steps_of(const fs::path& dir) {
  std::map<int64_t, nlohmann::json> steps;
  std::ifstream in(dir / "train.jsonl");
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains("loss")) steps[j["step"].get<int64_t>()] = j;
  }
  return steps;
}

double relative(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-30); }

// The largest relative difference of the step lines' numbers (steps present in both: all of b's).
double steps_difference(const fs::path& a, const fs::path& b) {
  const auto sa = steps_of(a), sb = steps_of(b);
  REQUIRE(sa.size() == sb.size());
  double worst = 0;
  for (const auto& [step, j] : sb) {
    REQUIRE(sa.count(step) == 1);
    for (const char* key : {"loss", "weight_loss", "mean_loss", "grad_norm", "lr"}) {
      worst = std::max(worst, relative(sa.at(step)[key].get<double>(), j[key].get<double>()));
    }
  }
  return worst;
}

// The same for eval.json (the final TGMM and baseline records) and model.safetensors (each
// tensor's largest difference over its largest magnitude).
double files_difference(const fs::path& a, const fs::path& b) {
  double worst = 0;
  const auto ea = nlohmann::json::parse(read_text(a / "eval.json"));
  const auto eb = nlohmann::json::parse(read_text(b / "eval.json"));
  REQUIRE(ea.size() == eb.size());
  for (size_t i = 0; i < eb.size(); ++i) {
    CHECK(ea[i]["method"] == eb[i]["method"]);
    CHECK(ea[i]["tasks"] == eb[i]["tasks"]);
    for (const char* key : {"l2_error", "mean_error", "weight_error", "log_likelihood"}) {
      CHECK(ea[i][key].is_null() == eb[i][key].is_null());  // null: every task failed
      if (ea[i][key].is_null() || eb[i][key].is_null()) continue;
      worst = std::max(worst, relative(ea[i][key].get<double>(), eb[i][key].get<double>()));
    }
  }
  const auto ma = tg::nn::read_safetensors((a / "model.safetensors").string());
  const auto mb = tg::nn::read_safetensors((b / "model.safetensors").string());
  REQUIRE(ma.tensors.size() == mb.tensors.size());
  for (size_t i = 0; i < mb.tensors.size(); ++i) {
    const tg::Tensor x = ma.tensors[i].second.to(tg::DType::F64);
    const tg::Tensor y = mb.tensors[i].second.to(tg::DType::F64);
    const double scale = std::max(tg::max_abs_diff(y, tg::zeros(y.shape(), tg::DType::F64)), 1e-30);
    worst = std::max(worst, tg::max_abs_diff(x, y) / scale);
  }
  return worst;
}

}  // namespace

TEST_CASE("P = 1, 2, 3 processes train the one-process model: same losses, evaluation, model") {
  for (const auto& [dtype, tolerance] :
       {std::pair{std::string("f32"), 1e-4}, {std::string("f64"), 1e-10}}) {
    CAPTURE(dtype);
    const std::string flags = std::string(kTiny) + " --steps 20 --dtype " + dtype;
    const fs::path alone = scratch("alone_" + dtype);
    fs::remove_all(alone);
    const Run one = shell(train() + " " + flags + " --out " + alone.string());
    REQUIRE(one.exit_code == 0);
    for (int procs : {1, 2, 3}) {
      CAPTURE(procs);
      const fs::path dir = scratch(dtype + "_procs_" + std::to_string(procs));
      fs::remove_all(dir);
      const Run r = shell(mpirun(procs) + train() + " " + flags + " --out " + dir.string());
      REQUIRE(r.exit_code == 0);
      CHECK(steps_difference(dir, alone) < tolerance);
      CHECK(files_difference(dir, alone) < tolerance);
      // Rank 0 alone prints: one final table; several processes say so first.
      size_t tables = 0;
      for (size_t at = 0; (at = r.out.find("Final evaluation", at)) != std::string::npos; ++at) {
        ++tables;
      }
      CHECK(tables == 1);
      CHECK((r.out.find("processes: " + std::to_string(procs)) != std::string::npos) ==
            (procs > 1));
    }
  }
}

TEST_CASE("a killed process ends the job; its checkpoint continues with another P, same path") {
  const std::string flags = std::string(kTiny) + " --steps 60 --dtype f64 --checkpoint-every 2";
  const fs::path alone = scratch("kill_alone"), dir = scratch("kill_job");
  fs::remove_all(alone);
  fs::remove_all(dir);
  REQUIRE(shell(train() + " " + flags + " --out " + alone.string()).exit_code == 0);

  // The job in the background, tagged so that its processes can be told from any other.
  const std::string tag = "TG_MPIPROG_JOB=" + std::to_string(::getpid());
  const fs::path rc = scratch("kill_rc");
  fs::remove(rc);
  std::system(("(" + tag + " " + mpirun(2) + train() + " " + flags + " --out " + dir.string() +
               " >" + scratch("kill_out").string() + " 2>" + scratch("kill_err").string() +
               "; echo $? >" + rc.string() + ") &")
                  .c_str());
  auto wait_for = [](auto done) {
    for (int i = 0; i < 1200 && !done(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
  };
  REQUIRE(wait_for([&] { return steps_of(dir).size() >= 4 || fs::exists(rc); }));
  int killed = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string environ = read_text(entry.path() / "environ");
    std::string line, mine;
    bool tagged = false, rank_1 = false;
    for (std::istringstream in(environ); std::getline(in, line, '\0');) {
      tagged |= line == tag;
      rank_1 |= line == "OMPI_COMM_WORLD_RANK=1";
    }
    if (tagged && rank_1 && fs::read_symlink(entry.path() / "exe") == fs::path(train())) {
      killed = std::stoi(entry.path().filename().string());
      ::kill(killed, SIGKILL);
    }
  }
  REQUIRE_MESSAGE(killed != 0, "the job ended before its rank 1 could be killed");
  REQUIRE(wait_for([&] { return fs::exists(rc) && !read_text(rc).empty(); }));
  CHECK(std::stoi(read_text(rc)) != 0);
  CHECK(read_text(scratch("kill_err")).find("rank 1") != std::string::npos);
  const size_t logged = steps_of(dir).size();
  CHECK(logged < 60);

  // Three processes continue the checkpoint two left; the log reads as one uninterrupted run.
  const Run resumed = shell(mpirun(3) + train() + " " + flags + " --resume --out " + dir.string());
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.out.find("resumed from") != std::string::npos);
  CHECK(steps_of(dir).size() == 60);
  CHECK(steps_difference(dir, alone) < 1e-10);
  CHECK(files_difference(dir, alone) < 1e-10);
}

TEST_CASE("settings that differ between processes are refused in one line, exit 2") {
  const std::string flags = std::string(kTiny) + " --steps 2 --out " + scratch("mismatch").string();
  const Run r = shell(mpirun(1) + train() + " " + flags + " --seed 1 : -np 1 " + train() + " " +
                      flags + " --seed 2");
  CHECK(r.exit_code == 2);
  std::vector<std::string> ours;
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("train:", 0) == 0) ours.push_back(line);
  }
  REQUIRE(ours.size() == 1);
  CHECK(ours[0] ==
        "train: rank 1 was given --seed 2, rank 0 --seed 1: every process must be given the "
        "same settings");

  // --threads may differ; --procs must match the processes there are.
  std::string two_threads = flags;
  two_threads.replace(two_threads.find("--threads 1"), 11, "--threads 2");
  const Run threads = shell(mpirun(1) + train() + " " + flags + " --procs 2 : -np 1 " + train() +
                            " " + two_threads + " --procs 2");
  CHECK(threads.exit_code == 0);
  const Run alone = shell(train() + " " + flags + " --procs 2");
  CHECK(alone.exit_code == 2);
  CHECK(alone.err ==
        "train: --procs 2, but this is 1 process: start it with tools/train --procs 2 or mpirun "
        "-np 2\n");
}

TEST_CASE("bench train as 2 processes: rank 0 alone, then the split step, and their ratio") {
  const std::string bench = (bin_dir() / "bench").string();
  const Run r = shell(mpirun(2) + bench +
                      " train --d 2 --ks 2,3,4 --embd 16 --layers 1 --heads 2 --n 8 --batch 3 "
                      "--positions 8 --threads 1 --steps 3 --warmup-steps 1 --json");
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);  // one object: rank 0's
  CHECK(j["processes"] == 2);
  CHECK(j["alone_median_step_s"].get<double>() > 0);
  CHECK(j["communication_ms_per_step"].get<double>() > 0);
  CHECK(j["allreduce_ms"].get<double>() > 0);
  CHECK(j["gradient_mib"].get<double>() > 0);
  const double speedup = j["alone_median_step_s"].get<double>() / j["median_step_s"].get<double>();
  CHECK(j["speedup"].get<double>() == doctest::Approx(speedup));
  CHECK(j["scaling_efficiency"].get<double>() == doctest::Approx(speedup / 2));
}
