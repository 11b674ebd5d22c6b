// theory_plot.h — the figure of docs/theory.md, drawn by gnuplot from tools/verify's result (the
// object `tools/verify --json` prints; keys in tools/src/verify.cpp).
//
// Left: the EM construction's worst error over its steps, for the means and the weights, against
// the knot count of its PWL log and square, for both spacings of the log knots (em.knots; solid:
// sqrt spacing, dashed: geometric). Right: the normalised power step's final relative error
// against the knot count of its PWL s^(-1/2) (power_normalized.knots), with the centred PWL bound
// (3/64) (ln(s_hi/s_lo) / knots)^2 dotted. Both axes logarithmic; 1210 x 462 pixels.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "tools/lib/gnuplot.h"

namespace tg::tools {

// The figure (data files theory_em.tsv: a block per log spacing of knots, mu error, pi error;
// theory_power.tsv: knots, final error). Throws nlohmann::json::exception when a key is missing.
GnuplotFigure theory_figure(const nlohmann::json& verify_result);

// Draws it into `path` (.png or .svg), atomically (gnuplot.h; throws as run_gnuplot does).
void write_theory_plot(const nlohmann::json& verify_result, const std::string& path);

}  // namespace tg::tools
