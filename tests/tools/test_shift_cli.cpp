// test_shift_cli.cpp — the task-shift flags of tools/baselines and tools/eval as programs
// (tools/lib/shift_flags.h): help with types and defaults, bad values refused in one line with
// exit code 2, JSON records naming their shift, and the phase transition at small N (K = 2, d
// derived from b and N, or held at the checkpoint's d by tools/eval, which refuses a b that
// gives another d).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "gmm/mixture/tasks.h"
#include "run_program.h"

namespace fs = std::filesystem;
using tg::testing::Run;

using tg::testing::expect_refused;

namespace {

Run run_baselines(const std::string& args) { return tg::testing::run_program("baselines", args); }
Run run_eval(const std::string& args) { return tg::testing::run_program("eval", args); }

// A tiny d = 2 model (K in {2, 3}), trained for one step: enough for tools/eval to load and run.
// Written once per test process.
std::string tiny_checkpoint() {
  static bool written = false;
  const fs::path dir = fs::temp_directory_path() / "tg_shift_cli_model";
  if (!written) {
    fs::remove_all(dir);
    written = true;
    const Run r = tg::testing::run_program(
        "train",
        "--d 2 --ks 2,3 --embd 16 --layers 1 --heads 2 --n 8 --batch 2 --eval-n 8 "
        "--eval-tasks 4 --positions 8 --threads 1 --steps 1 --out " +
            dir.string());
    REQUIRE(r.exit_code == 0);
  }
  return dir.string();
}

const char* kQuick = "--tasks 3 --threads 1 --methods em-paper,em-strong --json";

}  // namespace

TEST_CASE("tools/baselines --help: the shift flags with their types and defaults") {
  const Run r = run_baselines("--help");
  REQUIRE(r.exit_code == 0);
  for (const char* line : {"--shift none|perturb|aniso|phase [none]", "--perturbation FLOAT [0]",
                           "--phase-a FLOAT [1]", "--phase-b FLOAT [0.05]"}) {
    CAPTURE(line);
    CHECK(r.out.find(line) != std::string::npos);
  }
}

TEST_CASE("tools/baselines: bad shift values and combinations exit 2 with one line") {
  expect_refused(run_baselines("--shift wobble"), "baselines",
                 "--shift: unknown shift 'wobble' (expected none, perturb, aniso or phase)");
  expect_refused(run_baselines("--shift phase --phase-b 0"), "baselines",
                 "--phase-b: must be > 0, got 0");
  expect_refused(run_baselines("--shift phase --phase-a -1"), "baselines",
                 "--phase-a: must be >= 0, got -1");
  expect_refused(run_baselines("--shift phase --phase-a x"), "baselines",
                 "--phase-a: 'x' is not a valid number");
  expect_refused(run_baselines("--perturbation -2"), "baselines", "--perturbation: must be >= 0");
  expect_refused(run_baselines("--phase-a 2"), "baselines",
                 "--phase-a applies to --shift phase only (the shift is none)");
  expect_refused(run_baselines("--shift aniso --phase-b 0.1"), "baselines",
                 "--phase-b applies to --shift phase only (the shift is aniso)");
  expect_refused(run_baselines("--shift phase --d 8"), "baselines",
                 "--d does not apply to --shift phase");
  expect_refused(run_baselines("--shift phase --ks 2,3"), "baselines",
                 "--shift phase has K = 2, got --ks 2,3");
}

TEST_CASE("tools/baselines --json: every record names its shift and the shift's parameters") {
  const Run none = run_baselines(std::string(kQuick) + " --d 2 --ks 2 --n 16");
  REQUIRE(none.exit_code == 0);
  for (const auto& r : nlohmann::json::parse(none.out)) {
    CHECK(r.at("shift") == "none");
    CHECK_FALSE(r.contains("perturbation_std"));
  }
  const Run perturb =
      run_baselines(std::string(kQuick) + " --d 2 --ks 2 --n 16 --shift perturb --perturbation 3");
  REQUIRE(perturb.exit_code == 0);
  for (const auto& r : nlohmann::json::parse(perturb.out)) {
    CHECK(r.at("shift") == "perturb");
    CHECK(r.at("perturbation_std") == 3.0);
  }
  const Run aniso = run_baselines(std::string(kQuick) + " --d 2 --ks 2 --n 16 --shift aniso");
  REQUIRE(aniso.exit_code == 0);
  for (const auto& r : nlohmann::json::parse(aniso.out)) CHECK(r.at("shift") == "aniso");
}

TEST_CASE("tools/baselines --shift phase: K = 2 and d = floor(b N ln N) at each small N") {
  const Run run =
      run_baselines(std::string(kQuick) + " --n 8,16,24 --shift phase --phase-a 2 --phase-b 0.2");
  REQUIRE(run.exit_code == 0);
  const nlohmann::json records = nlohmann::json::parse(run.out);
  REQUIRE(records.size() == 6);  // 2 methods x 3 N
  for (const auto& r : records) {
    const int64_t n = r.at("N").get<int64_t>();
    CAPTURE(n);
    CHECK(r.at("K") == 2);
    const auto expected_d = static_cast<int64_t>(std::floor(0.2 * n * std::log(double(n))));
    CHECK(r.at("d").get<int64_t>() == expected_d);  // 3, 8, 15
    CHECK(r.at("d").get<int64_t>() == tg::gmm::phase_transition_dimension(n, 0.2));
    CHECK(r.at("shift") == "phase");
    CHECK(r.at("phase_a") == 2.0);
    CHECK(r.at("phase_b") == 0.2);
    CHECK(r.at("separation").get<double>() ==
          doctest::Approx(std::sqrt((1 + std::sqrt(2.0)) * std::log(double(n)))));
    CHECK(r.at("failures") == 0);
    CHECK(r.at("l2_error").get<double>() > 0);
  }
  // Without --ks the phase transition runs K = 2 alone; the table names the derived d.
  const Run text = run_baselines("--tasks 2 --threads 1 --n 8 --shift phase --methods em-paper");
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find("d = floor(b N ln N)") != std::string::npos);
  CHECK(text.out.find("b = 0.05") != std::string::npos);
}

TEST_CASE("tools/eval: --shift sections, --ood-scale as before, and the phase transition's d") {
  const std::string model = "--checkpoint " + tiny_checkpoint() + " --n 8 --tasks 3 --threads 1";
  const Run help = run_eval("--help");
  REQUIRE(help.exit_code == 0);
  CHECK(help.out.find("--shift none|perturb|aniso|phase [none]") != std::string::npos);
  CHECK(help.out.find("--phase-b FLOAT [the checkpoint's d]") != std::string::npos);

  SUBCASE("--ood-scale S is --shift perturb --perturbation S, in the same JSON") {
    const Run ood = run_eval(model + " --ood-scale 2 --json");
    const Run flags = run_eval(model + " --shift perturb --perturbation 2 --json");
    REQUIRE(ood.exit_code == 0);
    REQUIRE(flags.exit_code == 0);
    const auto a = nlohmann::json::parse(ood.out), b = nlohmann::json::parse(flags.out);
    CHECK(a.at("perturbation_std") == 2.0);
    REQUIRE(a.at("mean_perturbation").size() == 8);  // 4 methods x K in {2, 3}
    for (size_t i = 0; i < 8; ++i) {
      CHECK(a["mean_perturbation"][i].at("shift") == "perturb");
      CHECK(a["mean_perturbation"][i].at("l2_error") == b["mean_perturbation"][i].at("l2_error"));
    }
    CHECK(a["in_distribution"][0].at("shift") == "none");
    const Run text = run_eval(model + " --ood-scale 2");
    CHECK(text.out.find("== mean perturbation (s = 2) ==") != std::string::npos);
  }
  SUBCASE("anisotropic tasks get their own section") {
    const Run r = run_eval(model + " --shift aniso --methods tgmm,em-diag --json");
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(r.out);
    REQUIRE(j.at("anisotropic").size() == 4);
    for (const auto& rec : j["anisotropic"]) CHECK(rec.at("shift") == "aniso");
  }
  SUBCASE("phase: K = 2 at the checkpoint's d, or at a b that gives it") {
    const Run held = run_eval(model + " --shift phase --json");
    REQUIRE(held.exit_code == 0);
    const auto j = nlohmann::json::parse(held.out);
    CHECK(j.at("phase_b").is_null());
    REQUIRE(j.at("phase_transition").size() == 4);
    for (const auto& rec : j["phase_transition"]) {
      CHECK(rec.at("K") == 2);
      CHECK(rec.at("d") == 2);
      CHECK(rec.at("shift") == "phase");
    }
    // floor(0.13 * 8 ln 8) = 2, the model's d.
    const Run fits = run_eval(model + " --shift phase --phase-b 0.13 --json");
    REQUIRE(fits.exit_code == 0);
    CHECK(nlohmann::json::parse(fits.out)["phase_transition"][0].at("phase_b") == 0.13);
    expect_refused(run_eval(model + " --shift phase --phase-b 0.5"), "eval",
                   "at N = 8, d = floor(b N ln N) = 8 but the model reads only d = 2 (b in [");
    // Without TGMM the baselines run at the derived d.
    const Run baselines =
        run_eval(model + " --shift phase --phase-b 0.5 --methods em-strong --json");
    REQUIRE(baselines.exit_code == 0);
    CHECK(nlohmann::json::parse(baselines.out)["phase_transition"][0].at("d") == 8);
  }
  SUBCASE("bad combinations: one line, exit 2") {
    expect_refused(run_eval(model + " --ood-scale 1 --shift aniso"), "eval",
                   "--ood-scale S is short for --shift perturb --perturbation S");
    expect_refused(run_eval(model + " --ood-scale 1 --perturbation 2"), "eval", "--ood-scale S");
    expect_refused(run_eval(model + " --phase-b 0.1"), "eval",
                   "--phase-b applies to --shift phase");
    expect_refused(run_eval(model + " --shift sideways"), "eval", "unknown shift 'sideways'");
  }
}
