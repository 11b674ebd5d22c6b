// test_fit_cli.cpp — the CSV reader behind tools/fit (headers, blank lines, errors with line
// numbers), and the tool itself run as a program: JSON output for every method, one-line errors
// with exit code 2, the spherical and diagonal models (scales recovered), --standardize (the fit
// reported in each file's own units), --assignments, and the covariances a method cannot fit.
// The binary is build/bin/fit next to this test binary; when it has not been built (only test_gmm
// was), those cases are skipped with a message.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
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

TEST_CASE("the CSV reader takes a byte-order mark, and refuses lines over the length limit") {
  CHECK(parse("\xEF\xBB\xBFx,y\n1,2\n").to_vector() == std::vector<double>{1, 2});
  CHECK(parse("\xEF\xBB\xBF"
              "1,2\n")
            .to_vector() == std::vector<double>{1, 2});
  auto limited = [](const std::string& text, size_t limit) {
    std::istringstream in(text);
    return parse_points_csv(in, "points.csv", limit);
  };
  CHECK(limited("1,2\n3,4.5678\n", 8).shape() == Shape{2, 2});  // 8 bytes: at the limit
  CHECK_THROWS_WITH_AS(limited("1,2\n3,4.56789\n5,6\n", 8),
                       "points.csv:2: line is longer than 8 bytes", CsvError);
  // The default limit: 1 MiB.
  std::string line;
  while (line.size() < kMaxCsvLineBytes) line += "1,";
  line.pop_back();  // exactly kMaxCsvLineBytes - 1 bytes of "1,1,...,1"
  line += "0";
  REQUIRE(line.size() == kMaxCsvLineBytes);
  CHECK(parse(line + "\n").shape() == Shape{1, int64_t(kMaxCsvLineBytes / 2)});
  CHECK(csv_error(line + "0\n") == "points.csv:1: line is longer than 1048576 bytes");
}

TEST_CASE("CSV values must be finite numbers of sane magnitude; bad bytes are quoted safely") {
  CHECK(csv_error("1,1e300\n") ==
        "points.csv:1: value 2 '1e300' is larger than 1e+100 in magnitude");
  CHECK(csv_error("1,2\n-1e101,0\n") ==
        "points.csv:2: value 1 '-1e101' is larger than 1e+100 in magnitude");
  CHECK(parse("1e100,-1e100\n").to_vector() == std::vector<double>{1e100, -1e100});
  CHECK(csv_error("1,1e400\n") == "points.csv:1: value 2 '1e400' is not a finite number");
  CHECK(csv_error("inf,1\n") == "points.csv:1: value 1 'inf' is not a finite number");
  CHECK(csv_error("1,-INFINITY\n") == "points.csv:1: value 2 '-INFINITY' is not a finite number");
  CHECK(csv_error("1,\x01\xff"
                  "2\n") == "points.csv:1: value 2 '\\x01\\xff2' is not a number");
  CHECK(csv_error("1," + std::string(100, 'a') + "\n") ==
        "points.csv:1: value 2 '" + std::string(40, 'a') + "...' is not a number");
  // No columns: the first row has no number, so it is a header; the second is refused.
  CHECK(csv_error(",\n,\n") == "points.csv:2: value 1 is empty");
  CHECK(csv_error("1,2\r\n3,4\r\n\r\n5\r\n") ==
        "points.csv:4: expected 2 values (as on line 1), found 1");
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

TEST_CASE("tools/fit on hostile CSVs: exit 2 with one line naming the problem, or a correct fit") {
  if (!fs::exists(fit_binary())) {
    MESSAGE("skipped: " << fit_binary().string() << " is not built (ninja fit)");
    return;
  }
  auto refused = [](const std::string& name, const std::string& text, const std::string& flags,
                    const std::string& needle) {
    CAPTURE(name);
    const std::string path = write_file("tg_fit_hostile_" + name + ".csv", text);
    const Run r = run_fit("--csv " + path + " " + flags);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("fit: ", 0) == 0);
    CHECK(r.err.find(needle) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  };
  refused("nan", "1,2\nnan,3\n", "--k 1", ":2: value 1 'nan' is not a finite number");
  refused("inf", "1,2\n3,-inf\n", "--k 1", ":2: value 2 '-inf' is not a finite number");
  refused("overflow", "1,2\n3,1e999\n", "--k 1", ":2: value 2 '1e999' is not a finite number");
  refused("huge", "1,2\n1e300,3\n", "--k 1", ":2: value 1 '1e300' is larger than 1e+100");
  refused("k_over_n", "1,2\n3,4\n5,6\n", "--k 4", "--k 4 exceeds the number of points (3)");
  refused("blank", "\n \n\r\n", "--k 1", "no data rows (empty)");
  refused("header_only", "x,y\n", "--k 1", "no data rows (only a header)");
  refused("no_columns", ",\n,\n", "--k 1", ":2: value 1 is empty");
  refused("ragged", "1,2\n3,4,5\n", "--k 1", ":2: expected 2 values (as on line 1), found 3");
  refused("long_line", "1,2\n" + std::string(kMaxCsvLineBytes + 1, '7') + "\n", "--k 1",
          ":2: line is longer than 1048576 bytes");

  // All points equal is a legitimate input: with K = 1 every method finds that point.
  std::string equal;
  for (int i = 0; i < 40; ++i) equal += "2.5,-1,7\n";
  const std::string path = write_file("tg_fit_hostile_equal.csv", equal);
  for (const char* method : {"em-paper", "em-strong", "spectral"}) {
    CAPTURE(method);
    const Run r = run_fit("--csv " + path + " --k 1 --json --method " + method);
    REQUIRE(r.exit_code == 0);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j["weights"][0].get<double>() == doctest::Approx(1.0));
    const std::vector<double> mean = j["means"][0].get<std::vector<double>>();
    REQUIRE(mean.size() == 3);
    CHECK(mean[0] == doctest::Approx(2.5));
    CHECK(mean[1] == doctest::Approx(-1.0));
    CHECK(mean[2] == doctest::Approx(7.0));
    CHECK(std::isfinite(j["log_likelihood"].get<double>()));
  }
  // With K = 2, EM puts both components on the point (any split of the weight is optimal).
  const Run two = run_fit("--csv " + path + " --k 2 --json --method em-strong");
  REQUIRE(two.exit_code == 0);
  const nlohmann::json two_json = nlohmann::json::parse(two.out);
  for (const auto& m : two_json["means"]) {
    CHECK(m[0].get<double>() == doctest::Approx(2.5));
  }
}

namespace {

// Three well-separated components in d = 3 with standard deviations 0.5, 1 and 2 (all
// coordinates), columns multiplied by `column_scale`; one point per row, and the true labels.
struct ScaledPoints {
  std::string path;
  std::vector<int64_t> labels;
};
const std::vector<double> kMeans = {-10, 0, 0, 10, 0, 0, 0, 15, 5}, kSigma = {0.5, 1.0, 2.0};

ScaledPoints write_scaled_points(const std::string& name, const std::vector<double>& column_scale) {
  Generator gen(5);
  std::ostringstream text;
  ScaledPoints p;
  for (int64_t n = 0; n < 1500; ++n) {
    const int64_t z = n % 3;  // equal weights
    p.labels.push_back(z);
    for (int64_t c = 0; c < 3; ++c) {
      const double v = (kMeans[z * 3 + c] + kSigma[z] * gen.normal()) * column_scale[c];
      text << (c ? "," : "") << v;
    }
    text << "\n";
  }
  p.path = write_file(name, text.str());
  return p;
}

// The printed component of each true label, by majority; checks it is a bijection.
std::vector<int64_t> label_to_component(const nlohmann::json& j,
                                        const std::vector<int64_t>& labels) {
  const std::vector<int64_t> a = j.at("assignments").get<std::vector<int64_t>>();
  REQUIRE(a.size() == labels.size());
  std::vector<std::vector<int64_t>> count(3, std::vector<int64_t>(3, 0));
  for (size_t n = 0; n < a.size(); ++n) {
    REQUIRE(a[n] >= 0);
    REQUIRE(a[n] < 3);
    ++count[labels[n]][a[n]];
  }
  std::vector<int64_t> map(3);
  int64_t agree = 0;
  for (int64_t z = 0; z < 3; ++z) {
    map[z] = std::max_element(count[z].begin(), count[z].end()) - count[z].begin();
    agree += count[z][map[z]];
  }
  CHECK(agree >= static_cast<int64_t>(0.99 * static_cast<double>(a.size())));
  CHECK(map[0] != map[1]);
  CHECK(map[1] != map[2]);
  CHECK(map[0] != map[2]);
  return map;
}

}  // namespace

TEST_CASE(
    "tools/fit --covariance spherical|diag: the EM methods estimate each component's spread") {
  if (!fs::exists(fit_binary())) {
    MESSAGE("skipped: " << fit_binary().string() << " is not built (ninja fit)");
    return;
  }
  const ScaledPoints p = write_scaled_points("tg_fit_spread.csv", {1, 1, 1});
  const Run unit = run_fit("--csv " + p.path + " --k 3 --json");
  REQUIRE(unit.exit_code == 0);
  const nlohmann::json u = nlohmann::json::parse(unit.out);
  CHECK_FALSE(u.contains("scales"));  // the default output is as it always was
  CHECK_FALSE(u.contains("covariance"));
  CHECK_FALSE(u.contains("assignments"));
  double previous = u.at("log_likelihood").get<double>();
  for (const char* covariance : {"spherical", "diag"}) {
    CAPTURE(covariance);
    const Run r = run_fit("--csv " + p.path + " --k 3 --json --assignments --covariance " +
                          std::string(covariance));
    REQUIRE(r.exit_code == 0);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j.at("covariance") == covariance);
    CHECK(j.at("standardized") == false);
    CHECK(j.at("fit_seconds").get<double>() >= 0);
    const std::vector<int64_t> map = label_to_component(j, p.labels);
    for (int64_t z = 0; z < 3; ++z) {
      const std::vector<double> scales = j["scales"][map[z]].get<std::vector<double>>();
      const std::vector<double> mean = j["means"][map[z]].get<std::vector<double>>();
      REQUIRE(scales.size() == 3);
      for (int64_t c = 0; c < 3; ++c) {
        CHECK(scales[c] == doctest::Approx(kSigma[z]).epsilon(0.1));
        CHECK(std::abs(mean[c] - kMeans[z * 3 + c]) < 0.25);
      }
      if (std::string(covariance) == "spherical") {
        CHECK(scales[0] == scales[1]);
        CHECK(scales[1] == scales[2]);
      }
    }
    // Each model contains the one before: the likelihood does not drop (unit -> spherical -> diag).
    CHECK(j.at("log_likelihood").get<double>() > previous - 1e-9);
    previous = j.at("log_likelihood").get<double>();
  }
  // --assignments alone extends the unit model's output: its scales are ones.
  const Run assigned = run_fit("--csv " + p.path + " --k 3 --json --assignments");
  REQUIRE(assigned.exit_code == 0);
  const nlohmann::json a = nlohmann::json::parse(assigned.out);
  CHECK(a.at("covariance") == "unit");
  CHECK(a.at("log_likelihood") == u.at("log_likelihood"));
  label_to_component(a, p.labels);
  for (const auto& row : a.at("scales")) {
    for (const auto& s : row) CHECK(s.get<double>() == 1.0);
  }
  // em-paper takes the covariance too.
  const Run paper =
      run_fit("--csv " + p.path + " --k 3 --json --method em-paper --covariance diag");
  REQUIRE(paper.exit_code == 0);
  CHECK(nlohmann::json::parse(paper.out).at("scales").size() == 3);
}

TEST_CASE("tools/fit --standardize: fits unit-variance columns, reports in the original units") {
  if (!fs::exists(fit_binary())) {
    MESSAGE("skipped: " << fit_binary().string() << " is not built (ninja fit)");
    return;
  }
  const std::vector<double> column_scale = {1, 100, 0.01};
  const ScaledPoints plain = write_scaled_points("tg_fit_plain.csv", {1, 1, 1});
  const ScaledPoints scaled = write_scaled_points("tg_fit_scaled.csv", column_scale);
  for (const char* covariance : {"unit", "spherical", "diag"}) {
    CAPTURE(covariance);
    const std::string flags = " --k 3 --json --standardize --covariance " + std::string(covariance);
    const Run a = run_fit("--csv " + plain.path + flags),
              b = run_fit("--csv " + scaled.path + flags);
    REQUIRE(a.exit_code == 0);
    REQUIRE(b.exit_code == 0);
    const nlohmann::json ja = nlohmann::json::parse(a.out), jb = nlohmann::json::parse(b.out);
    CHECK(jb.at("standardized") == true);
    // Standardizing removes the column scales: the same fit, in each file's own units.
    double log_det = 0;
    for (double s : column_scale) log_det += std::log(s);
    CHECK(jb.at("log_likelihood").get<double>() ==
          doctest::Approx(ja.at("log_likelihood").get<double>() - log_det).epsilon(1e-6));
    for (int64_t k = 0; k < 3; ++k) {
      CHECK(jb["weights"][k].get<double>() ==
            doctest::Approx(ja["weights"][k].get<double>()).epsilon(1e-6));
      for (int64_t c = 0; c < 3; ++c) {
        CHECK(jb["means"][k][c].get<double>() ==
              doctest::Approx(ja["means"][k][c].get<double>() * column_scale[c]).epsilon(1e-6));
        CHECK(jb["scales"][k][c].get<double>() ==
              doctest::Approx(ja["scales"][k][c].get<double>() * column_scale[c]).epsilon(1e-6));
      }
    }
  }
  // The standardized unit model: every component gets the columns' standard deviations.
  const Run unit = run_fit("--csv " + scaled.path + " --k 3 --json --standardize");
  REQUIRE(unit.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(unit.out);
  CHECK(j.at("covariance") == "unit");
  for (int64_t c = 0; c < 3; ++c) {
    CHECK(j["scales"][0][c] == j["scales"][2][c]);
    CHECK(j["scales"][0][c].get<double>() > column_scale[c]);  // the spread between components too
  }
}

TEST_CASE("tools/fit: the spectral method's shared variance; covariances a method cannot fit") {
  if (!fs::exists(fit_binary())) {
    MESSAGE("skipped: " << fit_binary().string() << " is not built (ninja fit)");
    return;
  }
  const ScaledPoints p = write_scaled_points("tg_fit_spectral.csv", {1, 1, 1});
  const Run r =
      run_fit("--csv " + p.path + " --k 2 --json --method spectral --covariance spherical");
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const double shared = j["scales"][0][0].get<double>();
  CHECK(shared > 0);
  for (const auto& row : j["scales"]) {
    for (const auto& s : row) CHECK(s.get<double>() == shared);
  }
  auto refused = [](const Run& run, const std::string& message) {
    CHECK(run.exit_code == 2);
    CHECK(run.out.empty());
    CHECK(run.err == "fit: " + message + "\n");
  };
  refused(run_fit("--csv " + p.path + " --k 2 --method spectral --covariance diag"),
          "--covariance diag: the spectral method estimates one variance shared by all components "
          "(use unit or spherical)");
  refused(run_fit("--csv " + p.path + " --k 2 --method tgmm --checkpoint m --covariance spherical"),
          "--covariance spherical: a TGMM model estimates the mixture it was trained for (unit, or "
          "diag for a --covariance diag model)");
  refused(run_fit("--csv " + p.path + " --k 2 --covariance full"),
          "--covariance: unknown covariance 'full' (expected unit, spherical or diag)");
}
