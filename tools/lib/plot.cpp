// plot.cpp — the line-plot renderer (see plot.h): font, pen, axes and ticks, layout, legend.
#include "tools/lib/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace tg::tools {

namespace {

// ------------------------------------------------------------------------------ font

// 5x7 glyphs for ' ' (32) to '~' (126): five columns left to right, bit r of a column = row r
// (row 0 at the top; capitals and digits use rows 0-6, and the descenders of g, j, p, q, y row 7).
constexpr uint8_t kFont[95][5] = {
    {0x00, 0x00, 0x00, 0x00, 0x00}, {0x00, 0x00, 0x5F, 0x00, 0x00}, {0x00, 0x07, 0x00, 0x07, 0x00},
    {0x14, 0x7F, 0x14, 0x7F, 0x14}, {0x24, 0x2A, 0x7F, 0x2A, 0x12}, {0x23, 0x13, 0x08, 0x64, 0x62},
    {0x36, 0x49, 0x55, 0x22, 0x50}, {0x00, 0x05, 0x03, 0x00, 0x00}, {0x00, 0x1C, 0x22, 0x41, 0x00},
    {0x00, 0x41, 0x22, 0x1C, 0x00}, {0x08, 0x2A, 0x1C, 0x2A, 0x08}, {0x08, 0x08, 0x3E, 0x08, 0x08},
    {0x00, 0x50, 0x30, 0x00, 0x00}, {0x08, 0x08, 0x08, 0x08, 0x08}, {0x00, 0x60, 0x60, 0x00, 0x00},
    {0x20, 0x10, 0x08, 0x04, 0x02}, {0x3E, 0x51, 0x49, 0x45, 0x3E}, {0x00, 0x42, 0x7F, 0x40, 0x00},
    {0x42, 0x61, 0x51, 0x49, 0x46}, {0x21, 0x41, 0x45, 0x4B, 0x31}, {0x18, 0x14, 0x12, 0x7F, 0x10},
    {0x27, 0x45, 0x45, 0x45, 0x39}, {0x3C, 0x4A, 0x49, 0x49, 0x30}, {0x01, 0x71, 0x09, 0x05, 0x03},
    {0x36, 0x49, 0x49, 0x49, 0x36}, {0x06, 0x49, 0x49, 0x29, 0x1E}, {0x00, 0x36, 0x36, 0x00, 0x00},
    {0x00, 0x56, 0x36, 0x00, 0x00}, {0x08, 0x14, 0x22, 0x41, 0x00}, {0x14, 0x14, 0x14, 0x14, 0x14},
    {0x00, 0x41, 0x22, 0x14, 0x08}, {0x02, 0x01, 0x51, 0x09, 0x06}, {0x32, 0x49, 0x79, 0x41, 0x3E},
    {0x7E, 0x11, 0x11, 0x11, 0x7E}, {0x7F, 0x49, 0x49, 0x49, 0x36}, {0x3E, 0x41, 0x41, 0x41, 0x22},
    {0x7F, 0x41, 0x41, 0x22, 0x1C}, {0x7F, 0x49, 0x49, 0x49, 0x41}, {0x7F, 0x09, 0x09, 0x09, 0x01},
    {0x3E, 0x41, 0x49, 0x49, 0x7A}, {0x7F, 0x08, 0x08, 0x08, 0x7F}, {0x00, 0x41, 0x7F, 0x41, 0x00},
    {0x20, 0x40, 0x41, 0x3F, 0x01}, {0x7F, 0x08, 0x14, 0x22, 0x41}, {0x7F, 0x40, 0x40, 0x40, 0x40},
    {0x7F, 0x02, 0x0C, 0x02, 0x7F}, {0x7F, 0x04, 0x08, 0x10, 0x7F}, {0x3E, 0x41, 0x41, 0x41, 0x3E},
    {0x7F, 0x09, 0x09, 0x09, 0x06}, {0x3E, 0x41, 0x51, 0x21, 0x5E}, {0x7F, 0x09, 0x19, 0x29, 0x46},
    {0x46, 0x49, 0x49, 0x49, 0x31}, {0x01, 0x01, 0x7F, 0x01, 0x01}, {0x3F, 0x40, 0x40, 0x40, 0x3F},
    {0x1F, 0x20, 0x40, 0x20, 0x1F}, {0x3F, 0x40, 0x38, 0x40, 0x3F}, {0x63, 0x14, 0x08, 0x14, 0x63},
    {0x07, 0x08, 0x70, 0x08, 0x07}, {0x61, 0x51, 0x49, 0x45, 0x43}, {0x00, 0x7F, 0x41, 0x41, 0x00},
    {0x02, 0x04, 0x08, 0x10, 0x20}, {0x00, 0x41, 0x41, 0x7F, 0x00}, {0x04, 0x02, 0x01, 0x02, 0x04},
    {0x40, 0x40, 0x40, 0x40, 0x40}, {0x00, 0x01, 0x02, 0x04, 0x00}, {0x20, 0x54, 0x54, 0x54, 0x78},
    {0x7F, 0x48, 0x44, 0x44, 0x38}, {0x38, 0x44, 0x44, 0x44, 0x20}, {0x38, 0x44, 0x44, 0x48, 0x7F},
    {0x38, 0x54, 0x54, 0x54, 0x18}, {0x08, 0x7E, 0x09, 0x01, 0x02}, {0x18, 0xA4, 0xA4, 0xA4, 0x7C},
    {0x7F, 0x08, 0x04, 0x04, 0x78}, {0x00, 0x44, 0x7D, 0x40, 0x00}, {0x40, 0x80, 0x84, 0x7D, 0x00},
    {0x7F, 0x10, 0x28, 0x44, 0x00}, {0x00, 0x01, 0x3F, 0x40, 0x20}, {0x7C, 0x04, 0x18, 0x04, 0x78},
    {0x7C, 0x08, 0x04, 0x04, 0x78}, {0x38, 0x44, 0x44, 0x44, 0x38}, {0xFC, 0x24, 0x24, 0x24, 0x18},
    {0x18, 0x24, 0x24, 0x18, 0xFC}, {0x7C, 0x08, 0x04, 0x04, 0x08}, {0x48, 0x54, 0x54, 0x54, 0x20},
    {0x04, 0x3F, 0x44, 0x40, 0x20}, {0x3C, 0x40, 0x40, 0x20, 0x7C}, {0x1C, 0x20, 0x40, 0x20, 0x1C},
    {0x3C, 0x40, 0x30, 0x40, 0x3C}, {0x44, 0x28, 0x10, 0x28, 0x44}, {0x1C, 0xA0, 0xA0, 0xA0, 0x7C},
    {0x44, 0x64, 0x54, 0x4C, 0x44}, {0x00, 0x08, 0x36, 0x41, 0x00}, {0x00, 0x00, 0x7F, 0x00, 0x00},
    {0x00, 0x41, 0x36, 0x08, 0x00}, {0x08, 0x04, 0x08, 0x10, 0x08}};

const uint8_t* glyph(char c) {
  const int code = static_cast<unsigned char>(c);
  return kFont[(code < 32 || code > 126 ? '?' : code) - 32];
}

// Text running upwards from (x, y) (its bottom-left corner once turned): the y-axis label.
void draw_text_up(RgbImage& image, int x, int y, const std::string& text, Rgb color, int scale) {
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t* g = glyph(text[i]);
    const int base = y - static_cast<int>(i) * 6 * scale;
    for (int col = 0; col < 5; ++col) {
      for (int row = 0; row < 8; ++row) {
        if (!((g[col] >> row) & 1)) continue;
        for (int a = 0; a < scale; ++a) {
          for (int b = 0; b < scale; ++b) {
            const int px = x + row * scale + a, py = base - col * scale - b;
            if (image.contains(px, py)) image.at(px, py) = color;
          }
        }
      }
    }
  }
}

// ------------------------------------------------------------------------------ drawing

const Rgb kWhite{255, 255, 255}, kInk{40, 40, 40}, kGrid{225, 225, 225}, kMinorGrid{242, 242, 242};
constexpr int kScale = 2;  // text scale
constexpr int kTitleScale = 3;
constexpr int kTickLength = 5;
// From the top of a line of text to the middle of its capitals and digits.
constexpr int kCapMiddle = 7 * kScale / 2;
constexpr int kLegendSample = 32, kLegendRow = 8 * kScale + 8;

// [left, right) x [top, bottom)
struct Rect {
  int left = 0, top = 0, right = 0, bottom = 0;
  bool contains(int x, int y) const { return x >= left && x < right && y >= top && y < bottom; }
};

void fill_rect(RgbImage& image, const Rect& r, Rgb color) {
  for (int y = std::max(r.top, 0); y < std::min(r.bottom, image.height); ++y) {
    for (int x = std::max(r.left, 0); x < std::min(r.right, image.width); ++x)
      image.at(x, y) = color;
  }
}

void outline_rect(RgbImage& image, const Rect& r, Rgb color) {
  fill_rect(image, {r.left, r.top, r.right, r.top + 1}, color);
  fill_rect(image, {r.left, r.bottom - 1, r.right, r.bottom}, color);
  fill_rect(image, {r.left, r.top, r.left + 1, r.bottom}, color);
  fill_rect(image, {r.right - 1, r.top, r.right, r.bottom}, color);
}

// A square of side `size` centred on (x, y), clipped to `clip`.
void stamp(RgbImage& image, const Rect& clip, int x, int y, int size, Rgb color) {
  for (int dy = -(size / 2); dy <= (size - 1) / 2; ++dy) {
    for (int dx = -(size / 2); dx <= (size - 1) / 2; ++dx) {
      if (clip.contains(x + dx, y + dy) && image.contains(x + dx, y + dy)) {
        image.at(x + dx, y + dy) = color;
      }
    }
  }
}

// Draws connected segments, carrying the dash pattern's phase from one segment to the next.
class Pen {
 public:
  Pen(RgbImage& image, const Rect& clip, Rgb color, int thickness, Dash dash)
      : image_(image), clip_(clip), color_(color), thickness_(std::max(thickness, 1)) {
    const double pattern[4][2] = {{0, 0}, {14, 8}, {6, 6}, {2, 5}};  // (on, off) pixels, by Dash
    on_ = pattern[static_cast<int>(dash)][0];
    off_ = pattern[static_cast<int>(dash)][1];
  }
  void segment(double x0, double y0, double x1, double y1) {
    const double length = std::hypot(x1 - x0, y1 - y0);
    const int steps = std::max(1, static_cast<int>(std::ceil(2 * length)));
    for (int i = 0; i <= steps; ++i) {
      const double t = static_cast<double>(i) / steps;
      if (on_ > 0 && std::fmod(travelled_ + t * length, on_ + off_) >= on_) continue;
      stamp(image_, clip_, static_cast<int>(std::lround(x0 + t * (x1 - x0))),
            static_cast<int>(std::lround(y0 + t * (y1 - y0))), thickness_, color_);
    }
    travelled_ += length;
  }

 private:
  RgbImage& image_;
  Rect clip_;
  Rgb color_;
  int thickness_;
  double on_ = 0, off_ = 0, travelled_ = 0;
};

// ------------------------------------------------------------------------------ axes

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double unit(double v) const {  // position along the axis in [0, 1]
    if (log) return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    return (v - lo) / (hi - lo);
  }
};

struct Tick {
  double value;
  std::string label;  // empty: a minor tick (grid line only)
};

bool drawable(double x, double y, bool log_y) {
  return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0);
}

// The range of the drawable points and reference lines, widened when degenerate, then padded.
Axis x_axis(const Plot& plot) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : plot.series) {
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (drawable(s.x[i], s.y[i], plot.log_y))
        lo = std::min(lo, s.x[i]), hi = std::max(hi, s.x[i]);
    }
  }
  if (lo > hi) return {0, 1, false};
  if (lo == hi) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    return {lo - pad, hi + pad, false};
  }
  return {lo, hi, false};
}

Axis y_axis(const Plot& plot) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  auto add = [&](double y) { lo = std::min(lo, y), hi = std::max(hi, y); };
  for (const auto& s : plot.series) {
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (drawable(s.x[i], s.y[i], plot.log_y)) add(s.y[i]);
    }
  }
  for (const auto& r : plot.ref_lines) {
    if (drawable(0, r.y, plot.log_y)) add(r.y);
  }
  if (plot.log_y) {
    if (lo > hi) return {1, 10, true};
    double a = std::log10(lo), b = std::log10(hi);
    if (a == b) a -= 0.5, b += 0.5;
    const double pad = 0.04 * (b - a);
    return {std::pow(10.0, a - pad), std::pow(10.0, b + pad), true};
  }
  if (lo > hi) return {0, 1, false};
  if (lo == hi) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad, hi += pad;
  }
  const double pad = 0.05 * (hi - lo);
  return {lo >= 0 ? std::max(0.0, lo - pad) : lo - pad, hi + pad, false};
}

double nice_step(double span, int target) {
  const double raw = span / std::max(target, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / magnitude;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * magnitude;
}

std::vector<Tick> linear_ticks(double lo, double hi, int target) {
  const double step = nice_step(hi - lo, target);
  std::vector<Tick> ticks;
  for (double i = std::ceil(lo / step - 1e-9); i * step <= hi + 1e-9 * step; ++i) {
    const double v = std::abs(i) < 0.5 ? 0.0 : i * step;
    ticks.push_back({v, format_tick(v, step)});
  }
  return ticks;
}

// Three or more decades: labelled powers of ten (with unlabelled 2..9 multiples while there is
// room); fewer: labelled 1-2-5 multiples and unlabelled others; too few of those: linear ticks.
std::vector<Tick> log_ticks(double lo, double hi, int target) {
  const int k0 = static_cast<int>(std::ceil(std::log10(lo) - 1e-9));
  const int k1 = static_cast<int>(std::floor(std::log10(hi) + 1e-9));
  const bool decades_only = k1 - k0 + 1 >= 3;
  const int stride = decades_only ? std::max(1, (k1 - k0 + target) / target) : 1;
  std::vector<Tick> ticks;
  int labelled = 0;
  for (int k = k0 - 1; k <= k1; ++k) {
    const double decade = std::pow(10.0, k);
    for (int m = 1; m <= 9 && (m == 1 || stride == 1); ++m) {
      const double v = m * decade;
      if (v < lo || v > hi) continue;
      const bool label = m == 1 ? (k - k0) % stride == 0 : !decades_only && (m == 2 || m == 5);
      ticks.push_back({v, label ? format_tick(v, decade) : ""});
      labelled += label;
    }
  }
  return labelled >= 2 ? ticks : linear_ticks(lo, hi, target);
}

std::vector<Tick> axis_ticks(const Axis& axis, int target) {
  return axis.log ? log_ticks(axis.lo, axis.hi, target) : linear_ticks(axis.lo, axis.hi, target);
}

// ------------------------------------------------------------------------------ layout

std::vector<LegendEntry> legend_entries(const Plot& plot) {
  std::vector<LegendEntry> entries;
  for (const auto& s : plot.series) {
    if (!s.label.empty()) entries.push_back({s.label, s.color, s.dash});
  }
  entries.insert(entries.end(), plot.legend.begin(), plot.legend.end());
  return entries;
}

int legend_entry_width(const LegendEntry& e) { return kLegendSample + 8 + text_width(e.label); }

// Legend entries in rows across [left, right), each row centred: the top-left corner of each,
// with y counted from the top of the first row.
std::vector<std::pair<int, int>> legend_rows(const std::vector<LegendEntry>& entries, int left,
                                             int right) {
  constexpr int kGap = 28;
  std::vector<std::pair<int, int>> at;
  size_t row_start = 0;
  auto centre_row = [&](size_t end) {
    if (end == row_start) return;
    const int used = at[end - 1].first + legend_entry_width(entries[end - 1]) - left;
    const int shift = std::max(0, (right - left - used) / 2);
    for (size_t i = row_start; i < end; ++i) at[i].first += shift;
    row_start = end;
  };
  int x = left, y = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const int w = legend_entry_width(entries[i]);
    if (x > left && x + w > right) {
      centre_row(i);
      x = left, y += kLegendRow;
    }
    at.push_back({x, y});
    x += w + kGap;
  }
  centre_row(entries.size());
  return at;
}

struct Layout {
  Rect area;  // the plot area
  Axis x, y;
  std::vector<Tick> x_ticks, y_ticks;
  std::vector<LegendEntry> legend;
  std::vector<std::pair<int, int>> legend_above;  // top-left of each entry, when above the plot
  int px(double v) const {
    return area.left + static_cast<int>(std::lround(x.unit(v) * (area.right - 1 - area.left)));
  }
  int py(double v) const {
    return area.bottom - 1 -
           static_cast<int>(std::lround(y.unit(v) * (area.bottom - 1 - area.top)));
  }
};

int widest_label(const std::vector<Tick>& ticks) {
  int w = 0;
  for (const auto& t : ticks) w = std::max(w, text_width(t.label));
  return w;
}

int widest_ref_label(const Plot& plot) {
  int w = 0;
  for (const auto& r : plot.ref_lines) {
    if (!r.label.empty() && drawable(0, r.y, plot.log_y)) w = std::max(w, text_width(r.label));
  }
  return w;
}

Layout make_layout(const Plot& plot) {
  Layout l;
  l.x = x_axis(plot);
  l.y = y_axis(plot);
  l.legend = legend_entries(plot);
  const int th = text_height(kScale);
  int top = 12 + (plot.title.empty() ? 0 : text_height(kTitleScale) + 12);
  if (plot.legend_above && !l.legend.empty()) {
    l.legend_above = legend_rows(l.legend, 12, plot.width - 12);
    for (auto& [x, y] : l.legend_above) y += top;
    top = l.legend_above.back().second + kLegendRow + 4;
  }
  const int bottom =
      plot.height - (10 + th + 8 + kTickLength + (plot.x_label.empty() ? 0 : th + 10));
  l.y_ticks = axis_ticks(l.y, std::max(2, (bottom - top) / 70));
  const int left =
      12 + (plot.y_label.empty() ? 0 : th + 12) + widest_label(l.y_ticks) + 8 + kTickLength;
  const int ref_width = widest_ref_label(plot);
  auto place = [&](int right_margin) {
    l.area = {left, top, std::max(plot.width - right_margin, left + 2), std::max(bottom, top + 2)};
    l.x_ticks = axis_ticks(l.x, std::max(2, (l.area.right - l.area.left) / 130));
  };
  place(ref_width > 0 ? ref_width + 16 : 30);
  if (ref_width == 0 && !l.x_ticks.empty()) {  // room for the last tick label to overhang
    place(std::max(30, text_width(l.x_ticks.back().label) / 2 + 10));
  }
  return l;
}

// ------------------------------------------------------------------------------ parts

void draw_grid(RgbImage& image, const Layout& l) {
  for (const auto& t : l.y_ticks) {
    const int y = l.py(t.value);
    fill_rect(image, {l.area.left, y, l.area.right, y + 1}, t.label.empty() ? kMinorGrid : kGrid);
  }
  for (const auto& t : l.x_ticks) {
    const int x = l.px(t.value);
    fill_rect(image, {x, l.area.top, x + 1, l.area.bottom}, kGrid);
  }
}

void draw_axes(RgbImage& image, const Layout& l) {
  const Rect& a = l.area;
  outline_rect(image, {a.left - 1, a.top - 1, a.right + 1, a.bottom + 1}, kInk);
  for (const auto& t : l.x_ticks) {
    const int x = l.px(t.value);
    fill_rect(image, {x, a.bottom, x + 1, a.bottom + kTickLength}, kInk);
    draw_text(image, x - text_width(t.label) / 2, a.bottom + kTickLength + 6, t.label, kInk);
  }
  for (const auto& t : l.y_ticks) {
    const int y = l.py(t.value);
    const int length = t.label.empty() ? kTickLength / 2 + 1 : kTickLength;
    fill_rect(image, {a.left - 1 - length, y, a.left - 1, y + 1}, kInk);
    draw_text(image, a.left - kTickLength - 8 - text_width(t.label), y - kCapMiddle, t.label, kInk);
  }
}

void draw_series(RgbImage& image, const Layout& l, const Series& s, bool log_y) {
  const size_t n = std::min(s.x.size(), s.y.size());
  auto ok = [&](size_t i) { return i < n && drawable(s.x[i], s.y[i], log_y); };
  Pen pen(image, l.area, s.color, s.thickness, s.dash);
  for (size_t i = 0; i < n; ++i) {
    if (!ok(i)) continue;
    const int x = l.px(s.x[i]), y = l.py(s.y[i]);
    if (ok(i + 1)) pen.segment(x, y, l.px(s.x[i + 1]), l.py(s.y[i + 1]));
    const bool isolated = (i == 0 || !ok(i - 1)) && !ok(i + 1);
    if (s.markers || isolated) stamp(image, l.area, x, y, s.thickness + 5, s.color);
  }
}

void draw_ref_lines(RgbImage& image, const Layout& l, const Plot& plot) {
  for (const auto& r : plot.ref_lines) {
    if (!drawable(0, r.y, plot.log_y)) continue;
    const int y = l.py(r.y);
    Pen(image, l.area, r.color, 2, r.dash).segment(l.area.left, y, l.area.right - 1, y);
  }
}

// Labels in the right margin at their lines' heights, pushed apart so that none overlap and
// kept level with the plot area while they fit there.
void draw_ref_labels(RgbImage& image, const Layout& l, const Plot& plot) {
  const int step = text_height(kScale) + 3;
  std::vector<std::pair<int, const RefLine*>> labels;  // (top of the text, line)
  for (const auto& r : plot.ref_lines) {
    if (!r.label.empty() && drawable(0, r.y, plot.log_y)) {
      labels.push_back({l.py(r.y) - kCapMiddle, &r});
    }
  }
  std::sort(labels.begin(), labels.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  auto push_down = [&] {
    for (size_t i = 1; i < labels.size(); ++i) {
      labels[i].first = std::max(labels[i].first, labels[i - 1].first + step);
    }
  };
  push_down();
  for (size_t i = labels.size(); i-- > 0;) {  // then up, from the bottom of the plot area
    const int limit =
        i + 1 < labels.size() ? labels[i + 1].first - step : l.area.bottom - kCapMiddle;
    labels[i].first = std::min(labels[i].first, limit);
  }
  if (!labels.empty()) labels[0].first = std::max(labels[0].first, l.area.top - kCapMiddle);
  push_down();  // too many to fit: they run on below
  for (const auto& [top, r] : labels) draw_text(image, l.area.right + 8, top, r->label, r->color);
}

int ink_in(const RgbImage& image, const Rect& r) {
  int count = 0;
  for (int y = std::max(r.top, 0); y < std::min(r.bottom, image.height); ++y) {
    for (int x = std::max(r.left, 0); x < std::min(r.right, image.width); ++x) {
      const Rgb& p = image.at(x, y);
      count += !(p == kWhite || p == kGrid || p == kMinorGrid);
    }
  }
  return count;
}

// A line sample in the entry's colour and dash, then its label; (x, y) the top-left corner.
void draw_legend_entry(RgbImage& image, const Rect& clip, int x, int y, const LegendEntry& e) {
  const int mid = y + kCapMiddle;
  Pen(image, clip, e.color, 3, e.dash).segment(x, mid, x + kLegendSample, mid);
  draw_text(image, x + kLegendSample + 8, y, e.label, kInk);
}

// Above the plot when laid out there; else a box in the corner of the plot area that covers
// the fewest drawn pixels.
void draw_legend(RgbImage& image, const Layout& l) {
  if (l.legend.empty()) return;
  const Rect everywhere{0, 0, image.width, image.height};
  if (!l.legend_above.empty()) {
    for (size_t i = 0; i < l.legend.size(); ++i) {
      draw_legend_entry(image, everywhere, l.legend_above[i].first, l.legend_above[i].second,
                        l.legend[i]);
    }
    return;
  }
  constexpr int kInset = 10;
  int w = 0;
  for (const auto& e : l.legend) w = std::max(w, legend_entry_width(e));
  w += 20;
  const int h = 8 + kLegendRow * static_cast<int>(l.legend.size());
  const Rect& a = l.area;
  const int right = a.right - kInset, left = a.left + kInset;
  const int top = a.top + kInset, bottom = a.bottom - kInset;
  const Rect corners[4] = {{right - w, top, right, top + h},
                           {left, top, left + w, top + h},
                           {right - w, bottom - h, right, bottom},
                           {left, bottom - h, left + w, bottom}};
  const Rect* best = &corners[0];
  int best_ink = ink_in(image, corners[0]);
  for (const Rect& c : corners) {
    const int ink = ink_in(image, c);
    if (ink < best_ink) best = &c, best_ink = ink;
  }
  fill_rect(image, *best, kWhite);
  outline_rect(image, *best, {160, 160, 160});
  for (size_t i = 0; i < l.legend.size(); ++i) {
    draw_legend_entry(image, *best, best->left + 10,
                      best->top + 6 + static_cast<int>(i) * kLegendRow, l.legend[i]);
  }
}

void draw_labels(RgbImage& image, const Layout& l, const Plot& plot) {
  const int th = text_height(kScale);
  if (!plot.title.empty()) {
    draw_text(image, (plot.width - text_width(plot.title, kTitleScale)) / 2, 12, plot.title, kInk,
              kTitleScale);
  }
  const Rect& a = l.area;
  if (!plot.x_label.empty()) {
    draw_text(image, (a.left + a.right - text_width(plot.x_label)) / 2,
              a.bottom + kTickLength + 6 + th + 10, plot.x_label, kInk);
  }
  if (!plot.y_label.empty()) {
    draw_text_up(image, 12, (a.top + a.bottom + text_width(plot.y_label)) / 2, plot.y_label, kInk,
                 kScale);
  }
}

bool has_data(const Plot& plot) {
  for (const auto& s : plot.series) {
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (drawable(s.x[i], s.y[i], plot.log_y)) return true;
    }
  }
  for (const auto& r : plot.ref_lines) {
    if (drawable(0, r.y, plot.log_y)) return true;
  }
  return false;
}

}  // namespace

// ------------------------------------------------------------------------------ public

int text_width(const std::string& text, int scale) {
  return text.empty() ? 0 : (6 * static_cast<int>(text.size()) - 1) * scale;
}

int text_height(int scale) { return 8 * scale; }

void draw_text(RgbImage& image, int x, int y, const std::string& text, Rgb color, int scale) {
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t* g = glyph(text[i]);
    const int left = x + static_cast<int>(i) * 6 * scale;
    for (int col = 0; col < 5; ++col) {
      for (int row = 0; row < 8; ++row) {
        if ((g[col] >> row) & 1) {
          fill_rect(image,
                    {left + col * scale, y + row * scale, left + (col + 1) * scale,
                     y + (row + 1) * scale},
                    color);
        }
      }
    }
  }
}

std::string format_tick(double value, double step) {
  if (value == 0) return "0";
  const double magnitude = std::abs(value);
  const int decimals =
      std::max(0, -static_cast<int>(std::floor(std::log10(std::abs(step)) + 1e-9)));
  char buf[64];
  if (magnitude >= 1e7 || magnitude < 1e-3 || decimals > 4) {
    std::snprintf(buf, sizeof buf, "%.2e", value);  // "1.50e-05" -> "1.5e-5"
    std::string s(buf);
    const size_t e = s.find('e');
    std::string mantissa = s.substr(0, e);
    while (mantissa.back() == '0') mantissa.pop_back();
    if (mantissa.back() == '.') mantissa.pop_back();
    return mantissa + "e" + std::to_string(std::stoi(s.substr(e + 1)));
  }
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

Rgb palette_color(size_t index) {
  static const Rgb kPalette[10] = {
      {31, 119, 180}, {255, 127, 14},  {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
      {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return kPalette[index % 10];
}

Rgb lighten(Rgb c, double amount) {
  const double t = std::clamp(amount, 0.0, 1.0);
  auto mix = [t](uint8_t v) { return static_cast<uint8_t>(std::lround(v + t * (255 - v))); };
  return {mix(c.r), mix(c.g), mix(c.b)};
}

RgbImage render_plot(const Plot& plot) {
  if (plot.width < 200 || plot.height < 150) {
    throw std::invalid_argument("render_plot: the image must be at least 200 x 150 pixels");
  }
  RgbImage image(plot.width, plot.height, kWhite);
  const Layout layout = make_layout(plot);
  draw_grid(image, layout);
  draw_ref_lines(image, layout, plot);
  for (const auto& s : plot.series) draw_series(image, layout, s, plot.log_y);
  if (!has_data(plot)) {
    const std::string msg = "no data";
    draw_text(image, (layout.area.left + layout.area.right - text_width(msg)) / 2,
              (layout.area.top + layout.area.bottom) / 2, msg, {150, 150, 150});
  }
  draw_legend(image, layout);
  draw_axes(image, layout);
  draw_ref_labels(image, layout, plot);
  draw_labels(image, layout, plot);
  return image;
}

void write_plot(const std::string& path, const Plot& plot) { write_png(path, render_plot(plot)); }

}  // namespace tg::tools
