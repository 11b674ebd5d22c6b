// csv.cpp — the CSV reader of user points (see csv.h for the format).
#include "gmm/mixture/csv.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <istream>
#include <optional>
#include <vector>

#include "tensor/ops.h"

namespace tg::gmm {

namespace {

std::string trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  const size_t end = s.find_last_not_of(" \t\r");
  return s.substr(begin, end - begin + 1);
}

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string::npos) return fields;
    start = comma + 1;
  }
}

// The whole field as a number, or nothing (infinities and NaN parse, and are rejected later).
std::optional<double> parse_number(const std::string& field) {
  if (field.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(field.c_str(), &end);
  if (end != field.c_str() + field.size()) return std::nullopt;
  return v;
}

}  // namespace

Tensor parse_points_csv(std::istream& in, const std::string& source) {
  auto fail = [&](int64_t line, const std::string& what) -> CsvError {
    return CsvError(source + (line > 0 ? ":" + std::to_string(line) : "") + ": " + what, line);
  };
  std::vector<double> values;
  int64_t d = 0, first_data_line = 0, rows = 0, line_number = 0;
  bool seen_row = false;
  std::string line;
  while (std::getline(in, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    const std::vector<std::string> fields = split_fields(line);
    std::vector<std::optional<double>> parsed;
    bool any_number = false;
    for (const auto& f : fields) {
      parsed.push_back(parse_number(f));
      any_number = any_number || parsed.back().has_value();
    }
    const bool first_row = !seen_row;
    seen_row = true;
    if (first_row && !any_number) continue;  // a header row
    const int64_t count = static_cast<int64_t>(fields.size());
    if (rows == 0) {
      d = count;
      first_data_line = line_number;
    } else if (count != d) {
      throw fail(line_number, "expected " + std::to_string(d) + " values (as on line " +
                                  std::to_string(first_data_line) + "), found " +
                                  std::to_string(count));
    }
    for (int64_t c = 0; c < count; ++c) {
      const std::string where = "value " + std::to_string(c + 1) + " '" + fields[c] + "'";
      if (fields[c].empty())
        throw fail(line_number, "value " + std::to_string(c + 1) + " is empty");
      if (!parsed[c]) throw fail(line_number, where + " is not a number");
      if (!std::isfinite(*parsed[c])) throw fail(line_number, where + " is not a finite number");
      values.push_back(*parsed[c]);
    }
    ++rows;
  }
  if (in.bad()) throw fail(0, "read error");
  if (rows == 0) throw fail(0, seen_row ? "no data rows (only a header)" : "no data rows (empty)");
  return from_vector(values, {rows, d}, DType::F64);
}

Tensor read_points_csv(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw CsvError(path + ": cannot open file", 0);
  return parse_points_csv(file, path);
}

}  // namespace tg::gmm
