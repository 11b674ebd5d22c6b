// gnuplot.h — pictures drawn by gnuplot (Debian's gnuplot-nox), run as a child process.
//
//   GnuplotJob job;
//   job.data["loss.tsv"] = "1\t0.5\n2\t0.4\n";           // files the script reads, by name
//   job.script = png_terminal(900, 600) + "set output 'loss.png'\n"
//                "plot 'loss.tsv' using 1:2 with lines title 'loss'\nset output\n";
//   job.outputs = {{"loss.png", "runs/x/loss.png"}};      // image the script writes -> its place
//   run_gnuplot(job);
//
// run_gnuplot writes the data files and the script (plot.gp) into a fresh private folder beside
// the first output (".gnuplot-XXXXXX"), runs `gnuplot --default-settings plot.gp` there
// (posix_spawn, no shell; no init file such as ~/.gnuplot, so the pictures are the same on every
// machine; stdin from /dev/null, stdout and stderr into gnuplot.log in that folder), checks its
// exit status, then renames each image onto its final path — a reader sees the old image or the
// new one, never half of one — and removes the folder, whether gnuplot succeeded or not. The
// script names every file relative to that folder, so no path is ever quoted into it; only text
// (titles, labels) is, through gnuplot_quote. A process killed while gnuplot runs can leave that
// folder behind; nothing reads it, and it may be deleted.
//
// Errors, each one line: GnuplotMissing when the program is not found (a plain name is looked up
// on PATH, as a shell would); std::runtime_error when it cannot be started, fails (with the last
// line gnuplot printed, which names the script line and the problem) or leaves an image out.
#pragma once
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tg::tools {

struct GnuplotJob {
  std::map<std::string, std::string> data;  // file name -> contents, written before gnuplot runs
  std::string script;                       // gnuplot commands
  std::vector<std::pair<std::string, std::string>> outputs;  // (name the script writes, final path)
};

class GnuplotMissing : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The executable `name` resolves to: itself when it contains a '/', else the first executable
// PATH/name. Empty when there is none.
std::string find_program(const std::string& name);

// Runs `program` (default: gnuplot on PATH) on the job and publishes its images (see above).
// The outputs share the first one's file system (in practice: one folder). The names plot.gp and
// gnuplot.log are the runner's own.
void run_gnuplot(const GnuplotJob& job, const std::string& program = "gnuplot");

// One picture: the data files it reads and the commands that draw it on the current terminal
// (starting from `reset`, so that one figure's settings do not leak into the next).
struct GnuplotFigure {
  std::map<std::string, std::string> data;
  std::string commands;
  int width = 900, height = 600;  // pixels
};
// Adds `figure` to `job`, drawn once into each of `paths`, the terminal chosen by the extension
// (.png or .svg). Throws std::invalid_argument when two data files or images share a name.
void add_figure(GnuplotJob& job, const GnuplotFigure& figure,
                const std::vector<std::string>& paths);

// ---- writing scripts

// `text` as a gnuplot string literal: single-quoted (no escapes inside), a quote doubled,
// control characters (a newline would end the command) turned into spaces.
std::string gnuplot_quote(const std::string& text);
// A number for a data file or script: shortest round-trip form; "NaN" (a gap in a line) when
// not finite.
std::string gnuplot_number(double value);
// "set terminal ..." lines for a PNG (pngcairo) or SVG of width x height pixels, in the house
// style: sans 10 pt, plain text (no enhanced-text markup, so '_' and '^' print as themselves).
std::string png_terminal(int width, int height);
std::string svg_terminal(int width, int height);
// The terminal for `path` by its extension (.png or .svg); throws std::invalid_argument else.
std::string terminal_for(const std::string& path, int width, int height);
// Distinct line colours (matplotlib's "tab10"), cycling: "#1f77b4", "#ff7f0e", ...
std::string palette_color(size_t index);

}  // namespace tg::tools
