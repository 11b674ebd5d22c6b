// test_eval_covariance.cpp — tools/eval on a diagonal-covariance checkpoint: it evaluates on
// anisotropic tasks against the diagonal EMs and spectral (failures with a reason), the JSON
// records carry the scale error where the estimates have scales, --ood-scale is refused in one
// line; a unit checkpoint's records have no scale keys. tools/fit --method tgmm scores a diag
// model's fit under its scales.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "gmm/mixture/csv.h"
#include "gmm/mixture/metrics.h"
#include "gmm/tgmm/training_run.h"
#include "run_program.h"
#include "tools/lib/tgmm_checkpoint.h"

namespace fs = std::filesystem;
using tg::testing::Run;

namespace {

const char* kTiny =
    "--d 2 --ks 2,3 --embd 16 --layers 1 --heads 2 --n 8 --batch 2 --eval-n 8 --eval-tasks 4 "
    "--positions 8 --threads 1 --steps 2 --eval-every 0";

// A tiny trained checkpoint in a fresh directory (tools/train with `flags`).
std::string tiny_checkpoint(const std::string& name, const std::string& flags) {
  const fs::path dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  const Run r = tg::testing::run_program(
      "train", std::string(kTiny) + " " + flags + " --out " + dir.string());
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return dir.string();
}

}  // namespace

TEST_CASE("tools/eval on a diag checkpoint: anisotropic tasks, the diagonal EMs, scale errors") {
  const std::string dir = tiny_checkpoint("tg_eval_diag", "--covariance diag");
  const Run r = tg::testing::run_program(
      "eval", "--checkpoint " + dir + " --tasks 4 --n 8 --threads 1 --json");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j["covariance"] == "diag");
  CHECK_FALSE(j.contains("mean_perturbation"));
  const nlohmann::json& records = j["in_distribution"];
  REQUIRE(records.size() == 2 * 4);  // K = 2, 3 at N = 8
  std::vector<std::string> methods;
  for (const auto& rec : records) {
    const std::string method = rec["method"];
    CAPTURE(method);
    if (methods.size() < 4) methods.push_back(method);
    for (const char* key : {"l2_error", "mean_error", "weight_error", "log_likelihood", "accuracy",
                            "failures", "tasks", "l2_error_std"}) {
      CHECK(rec.contains(key));
    }
    if (method == "spectral") {
      CHECK(rec["failures"] == 4);
      CHECK(rec["l2_error"].is_null());
      CHECK_FALSE(rec.contains("scale_error"));
      CHECK(rec["failure_reasons"].dump().find("not applicable to anisotropic tasks") !=
            std::string::npos);
    } else {
      REQUIRE(rec.contains("scale_error"));
      CHECK(rec["scale_error"].get<double>() >= 0);
      CHECK(rec.contains("scale_error_std"));
      CHECK(rec.contains("scale_error_median"));
    }
  }
  CHECK(methods == std::vector<std::string>{"tgmm", "em-paper-diag", "em-diag", "spectral"});

  // The table: the scale-error column, and why spectral failed.
  const Run table =
      tg::testing::run_program("eval", "--checkpoint " + dir + " --tasks 4 --n 8 --threads 1");
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.find("diag covariance (anisotropic tasks)") != std::string::npos);
  CHECK(table.out.find("scale_err") != std::string::npos);
  CHECK(table.out.find("failed: spectral: spectral assumes unit-variance components") !=
        std::string::npos);

  // --methods still chooses; the mean perturbation is refused for a diag model.
  const Run chosen = tg::testing::run_program(
      "eval", "--checkpoint " + dir + " --tasks 2 --n 8 --threads 1 --methods em-paper --json");
  REQUIRE(chosen.exit_code == 0);
  const nlohmann::json unit_em = nlohmann::json::parse(chosen.out)["in_distribution"][0];
  CHECK(unit_em["method"] == "em-paper");
  CHECK_FALSE(unit_em.contains("scale_error"));
  const Run ood = tg::testing::run_program("eval", "--checkpoint " + dir + " --ood-scale 1");
  CHECK(ood.exit_code == 2);
  CHECK(ood.err.rfind("eval: --shift/--ood-scale: ", 0) == 0);
  CHECK(std::count(ood.err.begin(), ood.err.end(), '\n') == 1);
}

TEST_CASE("tools/eval on a unit checkpoint: no scale keys, covariance unit") {
  const std::string dir = tiny_checkpoint("tg_eval_unit", "");
  const Run r = tg::testing::run_program(
      "eval", "--checkpoint " + dir + " --tasks 4 --n 8 --threads 1 --json");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j["covariance"] == "unit");
  for (const auto& rec : j["in_distribution"]) {
    CHECK_FALSE(rec.contains("scale_error"));
    CHECK(rec["method"] != "em-paper-diag");
  }
}

TEST_CASE("tools/fit --method tgmm with a diag checkpoint: the log-likelihood uses its scales") {
  const std::string dir = tiny_checkpoint("tg_fit_diag", "--covariance diag");
  const fs::path csv = fs::temp_directory_path() / "tg_fit_diag.csv";
  {
    std::ofstream out(csv);
    out << "x,y\n-3,1\n-2.5,0.5\n-3.2,1.4\n2,4\n2.8,3.1\n2.2,4.6\n";
  }
  const Run r = tg::testing::run_program(
      "fit", "--csv " + csv.string() + " --k 2 --method tgmm --checkpoint " + dir + " --json");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const nlohmann::json fitted = nlohmann::json::parse(r.out);
  const double logged = fitted["log_likelihood"];
  CHECK(fitted["covariance"] == "diag");  // the checkpoint's, and the model's scales printed
  CHECK(fitted["scales"].size() == 2);
  const Run unit = tg::testing::run_program(
      "fit",
      "--csv " + csv.string() + " --k 2 --method tgmm --checkpoint " + dir + " --covariance unit");
  CHECK(unit.exit_code == 2);
  CHECK(unit.err ==
        "fit: --covariance unit: the model estimates the diag-covariance mixture it was trained "
        "for\n");

  // The same model in-process: its estimate has scales, and the likelihood is theirs.
  const tg::tools::LoadedTgmm m = tg::tools::load_tgmm(dir);
  const tg::Tensor x = tg::gmm::read_points_csv(csv.string());
  tg::Generator gen(0);
  const tg::gmm::Estimate e =
      tg::gmm::tgmm_estimator(*m.model).fit(tg::gmm::points_batch(x, 2), gen).at(0);
  REQUIRE(e.scales.defined());
  CHECK(logged == doctest::Approx(tg::gmm::mixture_log_likelihood(x, e.weights, e.means, e.scales))
                      .epsilon(1e-9));
  CHECK(logged !=
        doctest::Approx(tg::gmm::mixture_log_likelihood(x, e.weights, e.means)).epsilon(1e-6));
}
