// csv.h — read a user's points from CSV: one point per row, comma-separated coordinates.
//
// Format: every data row has the same number of values (d >= 1); values are decimal or
// scientific numbers, optionally surrounded by spaces; blank lines are skipped; Windows line ends
// and a UTF-8 byte-order mark at the start are accepted. The first non-blank row is a header,
// and skipped, when none of its fields is a number.
//
// Limits, so that hostile input is refused with a reason rather than exhausting memory or
// producing non-finite fits:
//   - a line may hold at most kMaxCsvLineBytes (1 MiB) bytes: the reader stops at the first byte
//     past it, without reading the rest of the line into memory;
//   - every value must be finite and at most kMaxCsvValue (1e100) in magnitude, so that squared
//     distances and third moments of the points (EM, the spectral method) stay finite in
//     double precision.
// An accepted input has as many rows as it has data lines, each with d finite values.
//
// Every problem is a CsvError whose one-line message names the source and line (a value is
// quoted with at most 40 bytes, non-printable bytes as \xNN):
//   "points.csv:4: expected 3 values (as on line 2), found 2"
//   "points.csv:7: value 2 'abc' is not a number"
//   "points.csv:9: value 1 '1e300' is larger than 1e+100 in magnitude"
//   "points.csv:3: line is longer than 1048576 bytes"
//   "points.csv: no data rows (empty)"
#pragma once
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <stdexcept>
#include <string>

#include "tensor/tensor.h"

namespace tg::gmm {

inline constexpr size_t kMaxCsvLineBytes = size_t{1} << 20;
inline constexpr double kMaxCsvValue = 1e100;

struct CsvError : std::runtime_error {
  CsvError(const std::string& message, int64_t line) : std::runtime_error(message), line(line) {}
  int64_t line;  // 1-based; 0 when the problem is the whole input (no rows, unreadable file)
};

// Points (N, d) f64 from a stream; `source` names it in error messages. `max_line_bytes` is
// kMaxCsvLineBytes except in tests that exercise the limit with small inputs.
Tensor parse_points_csv(std::istream& in, const std::string& source,
                        size_t max_line_bytes = kMaxCsvLineBytes);
// The same from a file.
Tensor read_points_csv(const std::string& path);

}  // namespace tg::gmm
