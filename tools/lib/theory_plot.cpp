// theory_plot.cpp — docs/theory.md's error-vs-knots figure (see theory_plot.h).
#include "tools/lib/theory_plot.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gmm/theory/construct_power.h"

namespace tg::tools {

using nlohmann::json;

namespace {

// Settings both panels share: log axes, powers of ten on y, a light grid, the key boxed in the
// top right corner (the errors fall from the top left), its samples left of the text.
const char* const kPanelSettings =
    "set logscale xy\nset format y '1e%L'\n"
    "set grid xtics ytics mxtics mytics lc rgb '#d8d8d8'\n"
    "set key top right Left reverse box opaque\n";

// The x range of a knot sweep (rows with "knots"): its knots, a quarter wider on either side.
std::string knot_range(const json& rows) {
  double lo = INFINITY, hi = 0;
  for (const json& row : rows) {
    lo = std::min(lo, row.at("knots").get<double>());
    hi = std::max(hi, row.at("knots").get<double>());
  }
  return "set xrange [" + gnuplot_number(lo / 1.25) + ":" + gnuplot_number(hi * 1.25) + "]\n";
}

std::string labels(const std::string& title, const std::string& x, const std::string& y) {
  return "set title " + gnuplot_quote(title) + "\nset xlabel " + gnuplot_quote(x) +
         "\nset ylabel " + gnuplot_quote(y) + "\n";
}

// One line with a marker at each point: column `y` against column 1 of block `index` of `file`.
std::string points_line(const std::string& file, int index, int y, const std::string& style,
                        const std::string& title) {
  return gnuplot_quote(file) + " index " + std::to_string(index) + " using 1:" + std::to_string(y) +
         " with linespoints lw 1.5 " + style + " title " + gnuplot_quote(title);
}

// Left panel: em.knots, one data block per spacing of the log knots (solid: sqrt, dashed:
// geometric); means in the first colour, weights in the second.
std::string em_panel(const json& em, std::string& tsv) {
  std::vector<std::string> lines;
  int block = 0;
  for (const std::string spacing : {"sqrt", "geometric"}) {
    tsv += "# " + spacing + " log knots: knots, max mu error, max pi error\n";
    for (const json& row : em.at("knots")) {
      if (row.at("log_spacing") != spacing) continue;
      tsv += gnuplot_number(row.at("knots").get<double>()) + "\t" +
             gnuplot_number(row.at("max_mu_error").get<double>()) + "\t" +
             gnuplot_number(row.at("max_pi_error").get<double>()) + "\n";
    }
    tsv += "\n\n";  // two blank lines end a block (gnuplot's `index`)
    const std::string dash = block == 0 ? "" : " dt (12,8)";
    lines.push_back(points_line("theory_em.tsv", block, 2,
                                "pt 7 lc rgb '" + palette_color(0) + "'" + dash,
                                "max |mu_TF - mu_EM|, " + spacing + " log knots"));
    lines.push_back(points_line("theory_em.tsv", block, 3,
                                "pt 5 lc rgb '" + palette_color(1) + "'" + dash,
                                "max |pi_TF - pi_EM|, " + spacing + " log knots"));
    ++block;
  }
  const json& c = em.at("cases").at(0);
  const std::string title = "EM construction: d=" + c.at("d").dump() + ", K=" + c.at("K").dump() +
                            ", N=" + c.at("N").dump() + " (d0=" + em.at("d0").dump() +
                            ", K0=" + em.at("k0").dump() + "), worst of " + em.at("steps").dump() +
                            " steps";
  std::string plot = "plot ";
  for (size_t i = 0; i < lines.size(); ++i) plot += (i ? ", \\\n     " : "") + lines[i];
  return labels(title, "knots of PWL log and PWL square", "error against exact EM") +
         knot_range(em.at("knots")) + plot + "\n";
}

// Right panel: power_normalized.knots, and the centred PWL bound (3/64) (ln(hi/lo) / knots)^2
// for the default range [lo, hi] of PWL(s^-1/2).
std::string power_panel(const json& power, std::string& tsv) {
  tsv += "# knots of PWL s^(-1/2), final relative error\n";
  for (const json& row : power.at("knots")) {
    tsv += gnuplot_number(row.at("knots").get<double>()) + "\t" +
           gnuplot_number(row.at("final_error").get<double>()) + "\n";
  }
  const gmm::PowerConstructionOptions defaults;
  const size_t steps = power.at("cases").at(0).at("rel_error").size();
  return labels("Tensor power iteration: relative error after " + std::to_string(steps) + " steps",
                "knots of PWL s^(-1/2) on [" + gnuplot_number(defaults.isqrt_lo) + ", " +
                    gnuplot_number(defaults.isqrt_hi) + "]",
                "|v_TF - v_ref| / |v_ref|") +
         knot_range(power.at("knots")) + "plot " +
         points_line("theory_power.tsv", 0, 2, "pt 7 lc rgb '" + palette_color(2) + "'",
                     "normalised step, worst start") +
         ", \\\n     3.0 / 64 * (log(" + gnuplot_number(defaults.isqrt_hi / defaults.isqrt_lo) +
         ") / x)**2 with lines dt (4,4) lw 2 lc rgb '#555555' " +
         "title '(3/64) (ln(s_hi/s_lo) / knots)^2'\n";
}

}  // namespace

GnuplotFigure theory_figure(const json& verify_result) {
  GnuplotFigure f;
  f.width = 1210;
  f.height = 462;
  std::string em_tsv, power_tsv;
  const std::string left = em_panel(verify_result.at("em"), em_tsv);
  const std::string right = power_panel(verify_result.at("power_normalized"), power_tsv);
  f.data["theory_em.tsv"] = em_tsv;
  f.data["theory_power.tsv"] = power_tsv;
  f.commands = std::string("reset\nset multiplot layout 1, 2\n") + kPanelSettings + left + right +
               "unset multiplot\n";
  return f;
}

void write_theory_plot(const json& verify_result, const std::string& path) {
  GnuplotJob job;
  add_figure(job, theory_figure(verify_result), {path});
  run_gnuplot(job);
}

}  // namespace tg::tools
