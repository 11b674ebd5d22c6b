// plot.h — a small line-plot renderer onto an RGB image (png.h), for training curves.
//
//   Plot p;
//   p.title = "training loss";  p.x_label = "step";  p.y_label = "loss";  p.log_y = true;
//   p.series.push_back({"loss", steps, losses, palette_color(0)});
//   p.ref_lines.push_back({0.05, palette_color(0), Dash::Long, "em-paper"});
//   write_plot("loss.png", p);
//
// What it draws: a title; a framed plot area with light grid lines at the major ticks; numeric
// tick labels (nice 1-2-5 steps; powers of ten on a log axis); axis labels (the y label turned
// on its side); each series as a polyline (solid or dashed, optional markers); each reference
// line as a horizontal line across the plot with its label in the right margin (labels pushed
// apart so they do not overlap); a legend of the labelled series plus any extra entries, in the
// corner of the plot area that hides the fewest drawn pixels, or in centred rows above the plot
// area (legend_above). Text uses a built-in 5x7 bitmap font (printable ASCII, with descenders)
// scaled 2x.
//
// Data rules: a point whose x or y is not finite — or whose y <= 0 on a log axis — is a gap (the
// line breaks there); the axes span the drawable points and reference lines; a plot with one
// point, a constant series or no data at all still renders (a degenerate range is widened).
#pragma once
#include <string>
#include <vector>

#include "tools/lib/png.h"

namespace tg::tools {

enum class Dash { Solid, Long, Short, Dotted };

struct Series {
  std::string label;      // legend text; empty: not in the legend
  std::vector<double> x;  // same length as y
  std::vector<double> y;
  Rgb color;
  int thickness = 2;  // pixels
  Dash dash = Dash::Solid;
  bool markers = false;  // a square at each point (for sparse series such as evaluations)
};

// A horizontal line across the plot area at height y (e.g. a baseline's error).
struct RefLine {
  double y = 0;
  Rgb color;
  Dash dash = Dash::Long;
  std::string label;  // drawn in the right margin at the line's height; empty: none
};

struct LegendEntry {
  std::string label;
  Rgb color;
  Dash dash = Dash::Solid;
};

struct Plot {
  std::string title, x_label, y_label;
  bool log_y = false;
  int width = 900, height = 600;
  std::vector<Series> series;
  std::vector<RefLine> ref_lines;
  std::vector<LegendEntry> legend;  // extra entries, after those of the labelled series
  bool legend_above = false;        // the legend in rows above the plot area, not inside it
};

RgbImage render_plot(const Plot& plot);
// render_plot, then write_png (atomic).
void write_plot(const std::string& path, const Plot& plot);

// Distinct line colours (the "tab10" palette), cycling.
Rgb palette_color(size_t index);
// `color` moved toward white by `amount` in [0, 1] (e.g. a raw curve behind its smoothed one).
Rgb lighten(Rgb color, double amount);

// Text in the built-in 5x7 font at `scale` (each font pixel a scale x scale square); (x, y) is
// the top-left corner. Characters outside printable ASCII are drawn as '?'.
void draw_text(RgbImage& image, int x, int y, const std::string& text, Rgb color, int scale = 2);
int text_width(const std::string& text, int scale = 2);
int text_height(int scale = 2);

// Tick label text for `value` on an axis whose ticks are `step` apart: as few decimals as the
// step needs ("0.25", "1500"), scientific for very large or small magnitudes ("1e-5").
std::string format_tick(double value, double step);

}  // namespace tg::tools
