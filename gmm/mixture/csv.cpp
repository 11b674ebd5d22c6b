// csv.cpp — the CSV reader of user points (see csv.h for the format and its limits).
//
// One pass over the input, one line at a time (read_line stops at the length limit), each line
// split into fields in place (string_view); values go straight into one vector (N * d).
#include "gmm/mixture/csv.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <istream>
#include <optional>
#include <string_view>
#include <vector>

#include "tensor/ops.h"

namespace tg::gmm {

namespace {

constexpr const char* kBlank = " \t\r";
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

std::string_view trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(kBlank);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kBlank) - begin + 1);
}

// The next line (without its '\n') into `line`. Returns false at the end of the input, and
// sets `too_long` (leaving the rest of the line unread) when it exceeds `limit` bytes.
bool read_line(std::istream& in, std::string& line, size_t limit, bool& too_long) {
  line.clear();
  std::streambuf* buf = in.rdbuf();
  for (int c = buf->sbumpc();; c = buf->sbumpc()) {
    if (c == std::char_traits<char>::eof()) {
      in.setstate(std::ios::eofbit);
      return !line.empty();
    }
    if (c == '\n') return true;
    if (line.size() == limit) {
      too_long = true;
      return true;
    }
    line.push_back(static_cast<char>(c));
  }
}

// Calls f(field) for each comma-separated field of `line`, trimmed.
template <class F>
void for_each_field(std::string_view line, F&& f) {
  for (size_t start = 0;;) {
    const size_t comma = line.find(',', start);
    f(trim(line.substr(start, comma == std::string_view::npos ? comma : comma - start)));
    if (comma == std::string_view::npos) return;
    start = comma + 1;
  }
}

// The whole field as a number, or nothing (infinities and NaN parse, and are refused later).
std::optional<double> parse_number(std::string_view field) {
  if (field.empty()) return std::nullopt;
  const std::string text(field);  // strtod needs a terminated string
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

// A field for an error message: quoted, at most 40 bytes, non-printable bytes as \xNN.
std::string quoted(std::string_view field) {
  std::string out = "'";
  for (size_t i = 0; i < field.size() && i < 40; ++i) {
    const auto c = static_cast<unsigned char>(field[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out + (field.size() > 40 ? "...'" : "'");
}

bool has_number(std::string_view line) {
  bool any = false;
  for_each_field(line, [&](std::string_view f) { any = any || parse_number(f).has_value(); });
  return any;
}

// Why `field` (value `index`, 1-based) is not a usable coordinate, or nothing.
std::optional<std::string> value_problem(std::string_view field, int64_t index, double& value) {
  const std::string what = "value " + std::to_string(index);
  if (field.empty()) return what + " is empty";
  const std::optional<double> v = parse_number(field);
  if (!v) return what + " " + quoted(field) + " is not a number";
  if (!std::isfinite(*v)) return what + " " + quoted(field) + " is not a finite number";
  if (std::abs(*v) > kMaxCsvValue) {
    char limit[16];
    std::snprintf(limit, sizeof limit, "%g", kMaxCsvValue);
    return what + " " + quoted(field) + " is larger than " + limit + " in magnitude";
  }
  value = *v;
  return std::nullopt;
}

}  // namespace

Tensor parse_points_csv(std::istream& in, const std::string& source, size_t max_line_bytes) {
  auto fail = [&](int64_t line, const std::string& what) -> CsvError {
    return CsvError(source + (line > 0 ? ":" + std::to_string(line) : "") + ": " + what, line);
  };
  std::vector<double> values;  // (rows, d)
  int64_t d = 0, first_data_line = 0, rows = 0, line_number = 0;
  bool seen_row = false, too_long = false;
  std::string buffer;
  while (read_line(in, buffer, max_line_bytes, too_long)) {
    ++line_number;
    if (too_long) {
      throw fail(line_number, "line is longer than " + std::to_string(max_line_bytes) + " bytes");
    }
    std::string_view line = buffer;
    if (line_number == 1 && line.substr(0, kUtf8Bom.size()) == kUtf8Bom) {
      line.remove_prefix(kUtf8Bom.size());
    }
    if (trim(line).empty()) continue;
    const bool first_row = !seen_row;
    seen_row = true;
    if (first_row && !has_number(line)) continue;  // a header row
    const auto count = static_cast<int64_t>(std::count(line.begin(), line.end(), ',')) + 1;
    if (rows == 0) {
      d = count;
      first_data_line = line_number;
    } else if (count != d) {
      throw fail(line_number, "expected " + std::to_string(d) + " values (as on line " +
                                  std::to_string(first_data_line) + "), found " +
                                  std::to_string(count));
    }
    int64_t index = 0;
    for_each_field(line, [&](std::string_view field) {
      double v = 0;
      if (auto problem = value_problem(field, ++index, v)) throw fail(line_number, *problem);
      values.push_back(v);
    });
    ++rows;
  }
  if (in.bad()) throw fail(0, "read error");
  if (rows == 0) throw fail(0, seen_row ? "no data rows (only a header)" : "no data rows (empty)");
  return from_vector(values, {rows, d}, DType::F64);
}

Tensor read_points_csv(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw CsvError(path + ": cannot open file", 0);
  return parse_points_csv(file, path);
}

}  // namespace tg::gmm
