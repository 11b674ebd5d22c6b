// test_fit_cli.cpp — the CSV reader behind tools/fit (headers, blank lines, errors with line
// numbers), and the tool itself run as a program: JSON output for every method, one-line errors
// with exit code 2. The binary is build/bin/fit next to this test binary; when it has not been
// built (only test_gmm was), those cases are skipped with a message.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "gmm/mixture/csv.h"
#include "gmm/mixture/tasks.h"
#include "run_program.h"

using namespace tg;
using namespace tg::gmm;
namespace fs = std::filesystem;

namespace {

Tensor parse(const std::string& text) {
  std::istringstream in(text);
  return parse_points_csv(in, "points.csv");
}

std::string csv_error(const std::string& text) {
  try {
    parse(text);
  } catch (const CsvError& e) {
    return e.what();
  }
  return "no error";
}

using tg::testing::Run;

fs::path fit_binary() { return fs::read_symlink("/proc/self/exe").parent_path() / "fit"; }

Run run_fit(const std::string& args) { return tg::testing::run_program("fit", args); }

std::string write_file(const std::string& name, const std::string& text) {
  const fs::path path = fs::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace

TEST_CASE("the CSV reader accepts headers, blank lines, spaces and Windows line ends") {
  const Tensor a = parse("x,y\n1,2\n\n 3 , 4.5e1 \r\n-5,6\n");
  CHECK(a.shape() == Shape{3, 2});
  CHECK(a.dtype() == DType::F64);
  CHECK(a.to_vector() == std::vector<double>{1, 2, 3, 45, -5, 6});
  CHECK(parse("7\n8\n").shape() == Shape{2, 1});
}

TEST_CASE("CSV errors name the line") {
  CHECK(csv_error("1,2\n3,4\n5\n") == "points.csv:3: expected 2 values (as on line 1), found 1");
  CHECK(csv_error("a,b\n1,2\n3,x4\n") == "points.csv:3: value 2 'x4' is not a number");
  CHECK(csv_error("1,2\n3,\n") == "points.csv:2: value 2 is empty");
  CHECK(csv_error("1,nan\n") == "points.csv:1: value 2 'nan' is not a finite number");
  CHECK(csv_error("1,b\n") == "points.csv:1: value 2 'b' is not a number");  // not a header
  CHECK(csv_error("") == "points.csv: no data rows (empty)");
  CHECK(csv_error("\n\n") == "points.csv: no data rows (empty)");
  CHECK(csv_error("x,y\n") == "points.csv: no data rows (only a header)");
  CHECK_THROWS_WITH_AS(read_points_csv("/nonexistent/p.csv"),
                       doctest::Contains("/nonexistent/p.csv: cannot open"), CsvError);
  try {
    parse("1,2\n3\n");
  } catch (const CsvError& e) {
    CHECK(e.line == 2);
  }
}

TEST_CASE("tools/fit fits CSV points with every method and reports errors in one line") {
  if (!fs::exists(fit_binary())) {
    MESSAGE("skipped: " << fit_binary().string() << " is not built (ninja fit)");
    return;
  }
  // Three well-separated components in d = 4 (so spectral, which needs K < d, applies).
  TaskConfig c;
  c.d = 4;
  c.ks = {3};
  c.tasks_per_k = 1;
  c.n = 3000;
  c.dtype = DType::F64;
  Generator gen(12);
  const TaskBatch b = sample_tasks(c, gen);
  std::ostringstream text;
  text << "a,b,c,d\n";
  const std::vector<double> x = b.x.to_vector();
  for (int64_t n = 0; n < 3000; ++n) {
    text << x[n * 4] << "," << x[n * 4 + 1] << "," << x[n * 4 + 2] << "," << x[n * 4 + 3] << "\n";
  }
  const std::string path = write_file("tg_fit_points.csv", text.str());

  for (const char* method : {"em-paper", "em-strong", "spectral"}) {
    CAPTURE(method);
    const Run r = run_fit("--csv " + path + " --k 3 --method " + method + " --seed 3 --json");
    REQUIRE(r.exit_code == 0);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j["method"] == method);
    REQUIRE(j["weights"].size() == 3);
    REQUIRE(j["means"].size() == 3);
    CHECK(j["means"][0].size() == 4);
    CHECK(j["log_likelihood"].is_number());
    CHECK(j["iterations"].is_number_integer());
    double total = 0;
    for (const auto& w : j["weights"]) total += w.get<double>();
    CHECK(total == doctest::Approx(1.0));
  }
  const Run text_run = run_fit("--csv " + path + " --k 3 --method em-strong");
  CHECK(text_run.exit_code == 0);
  CHECK(text_run.out.find("log-likelihood") != std::string::npos);

  auto expect_error = [](const Run& r, const std::string& needle) {
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find(needle) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // one line
  };
  const std::string ragged = write_file("tg_fit_ragged.csv", "1,2\n3,4\n5\n");
  expect_error(run_fit("--csv " + ragged + " --k 2"), "tg_fit_ragged.csv:3: expected 2 values");
  const std::string word = write_file("tg_fit_word.csv", "1,2\n3,four\n");
  expect_error(run_fit("--csv " + word + " --k 2"), ":2: value 2 'four' is not a number");
  const std::string empty = write_file("tg_fit_empty.csv", "");
  expect_error(run_fit("--csv " + empty + " --k 2"), "no data rows");
  expect_error(run_fit("--csv " + ragged.substr(0, ragged.size() - 4) + "x.csv --k 2"),
               "cannot open");
  const std::string tiny = write_file("tg_fit_tiny.csv", "1,2\n3,4\n");
  expect_error(run_fit("--csv " + tiny + " --k 3"), "exceeds the number of points (2)");
  expect_error(run_fit("--csv " + tiny + " --k 2 --method kmeans"), "--method");
  expect_error(run_fit("--csv " + tiny + " --k 2 --bogus"), "bogus");
  expect_error(run_fit("--k 2"), "--csv");
  expect_error(run_fit("--csv " + tiny + " --k 2 --method tgmm --checkpoint m.safetensors"),
               "m.safetensors: no such file");
  expect_error(run_fit("--csv " + tiny + " --k 2 --method tgmm"),
               "--method tgmm needs --checkpoint");
}
