// csv.h — read a user's points from CSV: one point per row, comma-separated coordinates.
//
// Format: every data row has the same number of values (d >= 1); values are decimal or
// scientific numbers, optionally surrounded by spaces; blank lines are skipped; Windows line ends
// are accepted. The first non-blank row is a header, and skipped, when none of its fields is a
// number. Every problem is a CsvError whose one-line message names the source and line:
//   "points.csv:4: expected 3 values (as on line 2), found 2"
//   "points.csv:7: value 2 'abc' is not a number"
//   "points.csv: no data rows"
#pragma once
#include <cstdint>
#include <iosfwd>
#include <stdexcept>
#include <string>

#include "tensor/tensor.h"

namespace tg::gmm {

struct CsvError : std::runtime_error {
  CsvError(const std::string& message, int64_t line) : std::runtime_error(message), line(line) {}
  int64_t line;  // 1-based; 0 when the problem is the whole input (no rows, unreadable file)
};

// Points (N, d) f64 from a stream; `source` names it in error messages.
Tensor parse_points_csv(std::istream& in, const std::string& source);
// The same from a file.
Tensor read_points_csv(const std::string& path);

}  // namespace tg::gmm
