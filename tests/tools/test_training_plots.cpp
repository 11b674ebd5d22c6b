// test_training_plots.cpp — the plots drawn through gnuplot: the training plots of a synthetic run
// directory and the theory figure, checked as a reader gets them: a PNG's signature and its size
// from the IHDR chunk; the SVG read as text for the legend entries and the points of a series;
// the data files gnuplot is given. And the failures: no gnuplot (reported once, nothing drawn), a
// gnuplot that fails (one line, the old images kept, no work folder left behind).
//
// These tests need gnuplot on PATH (Debian: gnuplot-nox, which tests/run installs) and fail
// without it.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tools/lib/gnuplot.h"
#include "tools/lib/theory_plot.h"
#include "tools/lib/training_plots.h"

using namespace tg::tools;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / (name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void require_gnuplot() {
  REQUIRE_MESSAGE(!find_program("gnuplot").empty(),
                  "gnuplot is not on PATH: install the Debian package gnuplot-nox");
}

// (width, height) of a PNG file: the 8-byte signature, then the IHDR chunk (length 13, type,
// width and height as big-endian 32-bit numbers).
std::pair<uint32_t, uint32_t> png_size(const fs::path& path) {
  const std::string png = read_file(path);
  REQUIRE(png.size() > 33);
  CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  CHECK(png.compare(8, 8, std::string("\0\0\0\x0dIHDR", 8)) == 0);
  auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<uint8_t>(png[at + i]);
    return v;
  };
  CHECK(png.compare(png.size() - 8, 4, "IEND") == 0);  // complete: the last chunk is there
  return {be32(16), be32(20)};
}

// The element <g ...> ... </g> that starts at `start` (nested groups counted).
std::string svg_group(const std::string& svg, size_t start) {
  int depth = 0;
  for (size_t at = start; at < svg.size(); ++at) {
    if (svg.compare(at, 3, "<g ") == 0) ++depth;
    if (svg.compare(at, 4, "</g>") == 0 && --depth == 0) return svg.substr(start, at + 4 - start);
  }
  FAIL("an unclosed <g> in the SVG");
  return "";
}

// The parts of a gnuplot SVG that draw the series whose legend entry is `title`: every group with
// the id of the group holding that entry (gnuplot draws a boxed key in a second group of the
// same id, after the data). Empty when there is no such entry.
std::string svg_series(const std::string& svg, const std::string& title) {
  const size_t entry = svg.find("<text>" + title + "</text>");
  if (entry == std::string::npos) return "";
  const size_t start = svg.rfind("<g id=\"gnuplot_plot_", entry);
  REQUIRE(start != std::string::npos);
  const std::string id = svg.substr(start, svg.find('"', start + 7) + 1 - start);
  std::string parts;
  for (size_t at = svg.find(id); at != std::string::npos; at = svg.find(id, at + 1)) {
    parts += svg_group(svg, at);
  }
  return parts;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Point markers of a series: one per point, plus one on its legend sample.
size_t markers(const std::string& svg, const std::string& title) {
  return count(svg_series(svg, title), "<use xlink:href='#gpPt");
}

// Vertices of a series drawn as a line (the M and L commands of its paths, each a letter and a
// digit), less the two of its legend sample.
size_t vertices(const std::string& svg, const std::string& title) {
  const std::string series = svg_series(svg, title);
  size_t n = 0;
  for (size_t i = 0; i + 1 < series.size(); ++i) {
    n +=
        (series[i] == 'M' || series[i] == 'L') && std::isdigit(static_cast<uint8_t>(series[i + 1]));
  }
  return n - 2;
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A program standing in for gnuplot: a shell script with `body`.
std::string fake_gnuplot(const fs::path& dir, const std::string& body) {
  const fs::path path = dir / "gnuplot";
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  chmod(path.c_str(), 0755);
  return path.string();
}

std::string record(const std::string& method, int k, int n, const std::string& l2) {
  return R"({"method":")" + method + R"(","d":8,"K":)" + std::to_string(k) + R"(,"N":)" +
         std::to_string(n) + R"(,"l2_error":)" + l2 + "}";
}

// A run directory as gmm/tgmm/trainer.cpp leaves it: 30 steps, evaluations at steps 10, 20 and 30
// at N = 64 and 128 for K = 2 and 3, eval.json with TGMM and the baselines, a torn last line.
fs::path synthetic_run(const std::string& name = "tg_plots_run") {
  const fs::path dir = fresh_dir(name);
  std::ofstream log(dir / "train.jsonl");
  for (int step = 1; step <= 30; ++step) {
    const double loss = 2.0 / step;
    log << R"({"step":)" << step << R"(,"loss":)" << loss << R"(,"weight_loss":)" << loss / 4
        << R"(,"mean_loss":)" << 3 * loss / 4 << R"(,"lr":0.001,"grad_norm":1,"seconds":0.1})"
        << "\n";
    if (step % 10 == 0) {
      log << R"({"type":"eval","step":)" << step << R"(,"records":[)"
          << record("tgmm", 2, 64, std::to_string(0.5 / step)) << ","
          << record("tgmm", 2, 128, "0.01") << ","
          << record("tgmm", 3, 64, std::to_string(1.0 / step)) << ","
          << record("tgmm", 3, 128, "0.02") << "]}\n";
    }
  }
  log << R"({"step":31,"lo)";  // torn
  std::ofstream(dir / "eval.json")
      << "[" << record("tgmm", 2, 64, "0.01") << "," << record("em-paper", 2, 64, "0.02") << ","
      << record("em-strong", 2, 64, "0.005") << "," << record("spectral", 2, 64, "null") << ","
      << record("em-paper", 3, 64, "0.2") << "," << record("em-paper", 3, 128, "0.1") << "]\n";
  return dir;
}

// The data rows of a TSV (not comments, not blank).
size_t rows(const std::string& tsv) {
  size_t n = 0;
  std::istringstream in(tsv);
  for (std::string line; std::getline(in, line);) n += !line.empty() && line[0] != '#';
  return n;
}

}  // namespace

// ------------------------------------------------------------------------------ reading the log

TEST_CASE("smooth is a bias-corrected moving average that keeps gaps") {
  const std::vector<double> s = smooth({2, 2, 2, std::nan(""), 2}, 10);
  CHECK(s[0] == doctest::Approx(2));
  CHECK(s[2] == doctest::Approx(2));
  CHECK(std::isnan(s[3]));
  CHECK(s[4] == doctest::Approx(2));
  const std::vector<double> t = smooth({0, 10}, 1);  // span 1: no smoothing
  CHECK(t[1] == doctest::Approx(10));
}

TEST_CASE("read_training_log reads steps, evaluations and baselines") {
  const fs::path dir = synthetic_run();
  const TrainingLog log = read_training_log(dir.string());
  CHECK(log.steps.size() == 30);
  CHECK(log.loss[1] == doctest::Approx(1.0));
  CHECK(log.evaluations.size() == 3);
  CHECK(log.evaluations[2].step == 30);
  CHECK(log.evaluations[0].records.size() == 4);
  CHECK(log.baselines.size() == 5);  // every record of eval.json but TGMM's
  CHECK_THROWS_WITH_AS(read_training_log((dir / "nowhere").string()),
                       doctest::Contains("train.jsonl"), std::runtime_error);
  fs::remove_all(dir);
}

TEST_CASE("baselines logged in train.jsonl win over a stale eval.json") {
  const fs::path dir = synthetic_run();
  std::ofstream(dir / "train.jsonl", std::ios::app)
      << "\n"
      << R"({"type":"baselines","records":[)" << record("em-paper", 2, 64, "0.03") << "]}\n"
      << R"({"type":"eval","step":40,"records":[)" << record("tgmm", 2, 64, "0.004") << ","
      << record("spectral", 2, 64, "0.07") << "]}\n";
  const TrainingLog log = read_training_log(dir.string());
  CHECK(log.evaluations.size() == 4);
  CHECK(log.evaluations.back().records.size() == 1);  // TGMM's only
  auto baseline = [&](const std::string& method) {
    for (const auto& b : log.baselines) {
      if (b["method"] == method && b["K"] == 2 && b["N"] == 64) return b["l2_error"];
    }
    return nlohmann::json();
  };
  CHECK(baseline("em-paper") == 0.03);
  CHECK(baseline("spectral") == 0.07);
  CHECK(baseline("em-strong") == 0.005);
  fs::remove_all(dir);
}

// ------------------------------------------------------------------------------ the figures

TEST_CASE("the figures' data: every step, and one block per K at the first N") {
  const fs::path dir = synthetic_run();
  const TrainingLog log = read_training_log(dir.string());
  const GnuplotFigure loss = loss_figure(log);
  CHECK(rows(loss.data.at("loss.tsv")) == 30);
  CHECK(loss.data.at("loss.tsv").find("\n2\t1\t") != std::string::npos);  // step 2, loss 1
  CHECK(loss.commands.find("set logscale y") != std::string::npos);

  const GnuplotFigure errors = error_vs_step_figure(log);
  const std::string& tsv = errors.data.at("error_vs_step.tsv");
  CHECK(rows(tsv) == 6);             // K = 2 and 3 at N = 64, three evaluations each
  CHECK(count(tsv, "\n\n\n") == 2);  // two blocks
  CHECK(tsv.find("10\t0.1\n") != std::string::npos);  // K = 3 at step 10
  CHECK(tsv.find("\t0.01\n") == std::string::npos);   // nothing at N = 128
  // The log axis fits the values (0.005 .. 0.2, a margin of 1.2) and is labelled 1-2-5.
  CHECK(errors.commands.find("set yrange [0.004166") != std::string::npos);
  CHECK(errors.commands.find(":0.24]") != std::string::npos);
  CHECK(errors.commands.find("'0.05' 0.05") != std::string::npos);

  // A log with losses <= 0 is drawn on a linear axis.
  TrainingLog negative = log;
  negative.loss[3] = -0.5;
  CHECK(loss_figure(negative).commands.find("logscale") == std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("training plots: loss and error_vs_step as PNG and SVG, of the run's data") {
  require_gnuplot();
  const fs::path dir = synthetic_run();
  TrainingPlotter().write(dir.string());
  CHECK(entries(dir) == std::vector<std::string>{"error_vs_step.png", "error_vs_step.svg",
                                                 "eval.json", "loss.png", "loss.svg",
                                                 "train.jsonl"});  // nothing else left behind
  for (const char* name : {"loss.png", "error_vs_step.png"}) {
    CAPTURE(name);
    CHECK(png_size(dir / name) == std::pair<uint32_t, uint32_t>{900, 600});
  }

  const std::string loss = read_file(dir / "loss.svg");
  CHECK(loss.find("<svg") != std::string::npos);
  CHECK(loss.find("training loss - tg_plots_run_") != std::string::npos);
  for (const char* series : {"loss (raw)", "mean part", "weight part", "loss (smoothed)"}) {
    CAPTURE(series);
    CHECK(vertices(loss, series) == 30);  // a point per step
  }

  const std::string errors = read_file(dir / "error_vs_step.svg");
  CHECK(errors.find("TGMM l2-error at N=64, d=8") != std::string::npos);
  CHECK(markers(errors, "TGMM K=2") == 3 + 1);  // the three evaluations
  CHECK(markers(errors, "TGMM K=3") == 3 + 1);
  for (const char* line : {"em-paper K=2", "em-strong K=2", "em-paper K=3"}) {
    CAPTURE(line);
    CHECK(!svg_series(errors, line).empty());
  }
  CHECK(svg_series(errors, "spectral K=2").empty());   // every task failed: no line
  CHECK(svg_series(errors, "em-strong K=3").empty());  // no such record
  CHECK(svg_series(errors, "TGMM K=4").empty());
  // A baseline is drawn in its K's colour.
  const std::string k2 = svg_series(errors, "TGMM K=2");
  const size_t color = k2.find("stroke='rgb(");
  REQUIRE(color != std::string::npos);
  CHECK(svg_series(errors, "em-paper K=2").find(k2.substr(color, 27)) != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("training plots: the error plot appears with the first evaluation") {
  require_gnuplot();
  const fs::path dir = fresh_dir("tg_plots_early");
  std::ofstream(dir / "train.jsonl") << R"({"step":1,"loss":0.5,"weight_loss":0.1,"mean_loss":0.4})"
                                     << "\n";
  TrainingPlotter plotter;
  plotter.write(dir.string());
  CHECK(png_size(dir / "loss.png") == std::pair<uint32_t, uint32_t>{900, 600});
  CHECK(fs::exists(dir / "loss.svg"));
  CHECK(!fs::exists(dir / "error_vs_step.png"));
  CHECK(!fs::exists(dir / "error_vs_step.svg"));

  std::ofstream(dir / "train.jsonl", std::ios::app)
      << R"({"type":"eval","step":1,"records":[)" << record("tgmm", 2, 64, "null") << "]}\n";
  plotter.write(dir.string());  // every error null: empty axes, not a failure
  CHECK(png_size(dir / "error_vs_step.png") == std::pair<uint32_t, uint32_t>{900, 600});
  CHECK(read_file(dir / "error_vs_step.svg").find("no data yet") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("training plots: a run name with a quote is drawn as written") {
  require_gnuplot();
  const fs::path dir = synthetic_run("tg_plots_it's");
  TrainingPlotter().write(dir.string());
  const std::string svg = read_file(dir / "loss.svg");
  CHECK((svg.find("tg_plots_it's_") != std::string::npos ||
         svg.find("tg_plots_it&apos;s_") != std::string::npos));
  fs::remove_all(dir);
}

// ------------------------------------------------------------------------------ failures

TEST_CASE("training plots without gnuplot: reported once, then skipped, nothing drawn") {
  const fs::path dir = synthetic_run();
  TrainingPlotter plotter("tg-no-such-gnuplot");
  CHECK_THROWS_WITH_AS(plotter.write(dir.string()),
                       "skipped: tg-no-such-gnuplot is not on PATH (Debian package gnuplot-nox); "
                       "training goes on",
                       GnuplotMissing);
  CHECK_NOTHROW(plotter.write(dir.string()));  // the second evaluation: quiet
  CHECK_NOTHROW(plotter.write(dir.string()));
  CHECK(entries(dir) == std::vector<std::string>{"eval.json", "train.jsonl"});
  fs::remove_all(dir);
}

TEST_CASE("a failing gnuplot is one line; the old images stay; no work folder is left") {
  require_gnuplot();
  const fs::path dir = synthetic_run();
  TrainingPlotter().write(dir.string());
  const std::string old_png = read_file(dir / "loss.png");

  const fs::path bin = fresh_dir("tg_plots_fake_bin");
  const std::string failing =
      fake_gnuplot(bin, "echo 'gnuplot> plot x'; echo '\"plot.gp\" line 3: no luck' >&2; exit 1");
  CHECK_THROWS_WITH_AS(TrainingPlotter(failing).write(dir.string()),
                       "gnuplot failed (exit status 1): \"plot.gp\" line 3: no luck",
                       std::runtime_error);
  CHECK(read_file(dir / "loss.png") == old_png);
  CHECK(entries(dir).size() == 6);  // the four images, the two logs: no .gnuplot-* folder

  // Success without the images is a failure too.
  CHECK_THROWS_WITH_AS(TrainingPlotter(fake_gnuplot(bin, "exit 0")).write(dir.string()),
                       doctest::Contains("gnuplot wrote no loss.png"), std::runtime_error);
  CHECK(read_file(dir / "loss.png") == old_png);
  CHECK(entries(dir).size() == 6);
  fs::remove_all(bin);
  fs::remove_all(dir);
}

TEST_CASE("run_gnuplot quotes gnuplot's complaint about a bad script in one line") {
  require_gnuplot();
  const fs::path dir = fresh_dir("tg_gnuplot_bad");
  GnuplotJob job;
  job.script = png_terminal(100, 100) + "set output 'a.png'\nfrobnicate 1:2\n";
  job.outputs = {{"a.png", (dir / "a.png").string()}};
  try {
    run_gnuplot(job);
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    CHECK(what == "gnuplot failed (exit status 1): \"plot.gp\" line 3: invalid command");
    CHECK(what.find('\n') == std::string::npos);
  }
  CHECK(entries(dir).empty());
  fs::remove_all(dir);
}

TEST_CASE("gnuplot script helpers") {
  CHECK(gnuplot_quote("it's") == "'it''s'");
  CHECK(gnuplot_quote("a\nb") == "'a b'");
  CHECK(gnuplot_number(0.25) == "0.25");
  CHECK(gnuplot_number(1e-5) == "1e-05");
  CHECK(gnuplot_number(3000) == "3000");
  CHECK(gnuplot_number(NAN) == "NaN");
  CHECK(gnuplot_number(INFINITY) == "NaN");
  CHECK(palette_color(0) == "#1f77b4");
  CHECK(palette_color(10) == palette_color(0));
  CHECK_THROWS_AS(terminal_for("x.pdf", 10, 10), std::invalid_argument);
  const std::string sh = find_program("sh");  // the first sh on PATH, as a shell finds it
  CHECK(sh.size() > 3);
  CHECK(sh.compare(sh.size() - 3, 3, "/sh") == 0);
  CHECK(find_program("tg-no-such-program").empty());
  CHECK(find_program("/bin/sh") == "/bin/sh");
}

// ------------------------------------------------------------------------------ theory figure

TEST_CASE("theory figure: both panels from tools/verify's JSON") {
  require_gnuplot();
  nlohmann::json result;
  auto& em = result["em"];
  em = {{"d0", 8}, {"k0", 5}, {"steps", 5}, {"cases", {{{"d", 8}, {"K", 4}, {"N", 128}}}}};
  for (const char* spacing : {"sqrt", "geometric"}) {
    for (int knots : {25, 50, 100}) {
      em["knots"].push_back({{"knots", knots},
                             {"log_spacing", spacing},
                             {"max_mu_error", 1.0 / knots},
                             {"max_pi_error", 0.1 / knots}});
    }
  }
  auto& power = result["power_normalized"];
  power["cases"] = {{{"rel_error", {0.1, 0.01, 0.001, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8}}}};
  for (int knots : {25, 50, 100, 200}) {
    power["knots"].push_back({{"knots", knots}, {"final_error", 10.0 / (knots * knots)}});
  }

  const fs::path dir = fresh_dir("tg_theory_plot");
  write_theory_plot(result, (dir / "theory.png").string());
  write_theory_plot(result, (dir / "theory.svg").string());
  CHECK(png_size(dir / "theory.png") == std::pair<uint32_t, uint32_t>{1210, 462});
  const std::string svg = read_file(dir / "theory.svg");
  CHECK(svg.find("EM construction: d=8, K=4, N=128 (d0=8, K0=5), worst of 5 steps") !=
        std::string::npos);
  CHECK(svg.find("relative error after 8 steps") != std::string::npos);
  for (const char* series :
       {"max |mu_TF - mu_EM|, sqrt log knots", "max |pi_TF - pi_EM|, sqrt log knots",
        "max |mu_TF - mu_EM|, geometric log knots", "max |pi_TF - pi_EM|, geometric log knots"}) {
    CAPTURE(series);
    CHECK(markers(svg, series) == 3 + 1);
  }
  CHECK(markers(svg, "normalised step, worst start") == 4 + 1);
  CHECK(!svg_series(svg, "(3/64) (ln(s_hi/s_lo) / knots)^2").empty());
  CHECK(entries(dir) == std::vector<std::string>{"theory.png", "theory.svg"});
  CHECK_THROWS_AS(write_theory_plot(nlohmann::json::object(), (dir / "x.png").string()),
                  nlohmann::json::exception);
  fs::remove_all(dir);
}
