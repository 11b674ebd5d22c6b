// test_bench_cli.cpp — tools/bench train as a program: it times steps of the tools/train model,
// prints one JSON object with --json, and refuses bad flags with one line and exit code 2.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "run_program.h"
#include "tensor/device.h"

namespace fs = std::filesystem;

namespace {

using tg::testing::Run;

Run run_bench(const std::string& args) { return tg::testing::run_program("bench", args); }

const char* kTiny =
    "--d 2 --ks 2,3 --embd 16 --layers 1 --heads 2 --n 8 --batch 2 --threads 1 --steps 3 "
    "--warmup-steps 1";

}  // namespace

TEST_CASE("tools/bench train --json: one object with the step time, throughput and profile") {
  for (const char* arch : {"--backbone gpt2 --weight-head average --loss sorted", ""}) {
    CAPTURE(arch);
    const Run r = run_bench(std::string("train ") + kTiny + " " + arch + " --json");
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j.at("median_step_s").get<double>() > 0);
    CHECK(j.at("min_step_s").get<double>() <= j.at("median_step_s").get<double>());
    CHECK(j.at("max_step_s").get<double>() >= j.at("median_step_s").get<double>());
    CHECK(j.at("tokens_per_s").get<double>() > 0);
    CHECK(j.at("gflops").get<double>() > 0);
    CHECK(j.at("steps").get<int>() == 3);
    // The profile covers the step: its family shares sum to 1, and the GEMMs are in it.
    double total = 0;
    for (const auto& [name, share] : j.at("family_share").items()) total += share.get<double>();
    CHECK(total == doctest::Approx(1.0).epsilon(1e-9));
    CHECK(j.at("family_share").contains("matmul (GEMM)"));
    CHECK(j.at("family_share").contains("optimizer"));  // the training step's own laps
  }
}

TEST_CASE("tools/bench train: a readable report, and bad flags exit 2 with one line") {
  const Run ok = run_bench(std::string("train ") + kTiny);
  REQUIRE(ok.exit_code == 0);
  CHECK(ok.out.find("s/step") != std::string::npos);
  CHECK(ok.out.find("Time by op family") != std::string::npos);
  CHECK(ok.out.find("linear backward") != std::string::npos);

  const Run bad = run_bench("train --layers x");
  CHECK(bad.exit_code == 2);
  CHECK(bad.err == "bench: --layers: 'x' is not a valid number\n");
  const Run none = run_bench("");
  CHECK(none.exit_code == 2);
}

TEST_CASE("tools/bench train reads --config like tools/train, and says what --steps means") {
  const fs::path dir = fs::temp_directory_path();
  const std::string good = (dir / "tg_bench_good.toml").string();
  const std::string bad = (dir / "tg_bench_bad.toml").string();
  std::ofstream(good) << "backbone = \"gpt2\"\nloss = \"sorted\"\nlayers = 3\n";
  std::ofstream(bad) << "width = 3\n";
  const Run r = run_bench(std::string("train ") + kTiny + " --config " + good + " --json");
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["config"]["backbone"] == "gpt2");  // from the file
  CHECK(j["config"]["loss"] == "sorted");
  CHECK(j["config"]["layers"] == 1);  // the flag wins
  CHECK(j["steps"] == 3);

  const Run refused = run_bench("train --config " + bad);
  CHECK(refused.exit_code == 2);
  CHECK(refused.err == "bench: config " + bad + ": unknown key 'width'\n");

  const Run help = run_bench("train --help");
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--steps INT [10]") != std::string::npos);
  CHECK(help.out.find("--warmup-steps INT [3]") != std::string::npos);
}

TEST_CASE("tools/bench train --device cuda: runs on a GPU, refused with one line without one") {
  const Run r = run_bench(std::string("train ") + kTiny + " --device cuda --json");
  if (tg::cuda_available()) {
    REQUIRE(r.exit_code == 0);
    CHECK(nlohmann::json::parse(r.out).at("device") == "cuda");
  } else {
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("bench: --device", 0) == 0);
    CHECK(r.err.find('\n') == r.err.size() - 1);
  }
}
