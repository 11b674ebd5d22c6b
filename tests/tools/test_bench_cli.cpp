// test_bench_cli.cpp — tools/bench train as a program: it times steps of the tools/train model,
// prints one JSON object with --json, and refuses bad flags with one line and exit code 2.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "run_program.h"

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
  const Run device = run_bench("train --device cuda");
  CHECK(device.exit_code == 2);
  // Without a GPU the device itself is refused; with one, CUDA is not benchmarked here.
  CHECK(device.err.rfind("bench: --device", 0) == 0);
  CHECK(device.err.find('\n') == device.err.size() - 1);
  const Run none = run_bench("");
  CHECK(none.exit_code == 2);
}
