// fuzz_csv.cpp — libFuzzer target for the CSV reader of tools/fit (gmm/mixture/csv.cpp).
//
// The input is the file's text. It is read twice: with the default limits, and with a line
// limit of 64 bytes (so that the fuzzer reaches the too-long-line path with small inputs).
// The contract checked each time:
//   - refused: a CsvError whose message is one line and starts with the source name;
//   - accepted: a (N, d) f64 tensor with N, d >= 1, every value finite and within
//     kMaxCsvValue, and — by an independent split of the text into lines and fields — N equal
//     to the number of non-blank lines (less one header line when there is one), every one of
//     them with d fields, and each value equal to strtod of its field.
// Anything else (another exception type, a crash, a sanitizer report, a hang under -timeout, an
// allocation over -malloc_limit_mb) is a failure.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "gmm/mixture/csv.h"

using namespace tg;
using namespace tg::gmm;

namespace {

[[noreturn]] void broken(const std::string& what) {
  std::fprintf(stderr, "fuzz_csv: contract broken: %s\n", what.c_str());
  std::abort();
}

void require(bool ok, const std::string& what) {
  if (!ok) broken(what);
}

std::string trimmed(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t at; (at = s.find(sep, start)) != std::string::npos; start = at + 1) {
    out.push_back(s.substr(start, at - start));
  }
  out.push_back(s.substr(start));
  return out;
}

// The non-blank lines of `text` (a leading byte-order mark removed).
std::vector<std::string> content_lines(std::string text) {
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  std::vector<std::string> out;
  for (const std::string& line : split(text, '\n')) {
    if (!trimmed(line).empty()) out.push_back(line);
  }
  return out;
}

void check_accepted(const Tensor& x, const std::string& text) {
  require(x.dtype() == DType::F64 && x.dim() == 2, "not a (N, d) f64 tensor");
  const int64_t n = x.size(0), d = x.size(1);
  require(n >= 1 && d >= 1, "empty result accepted");
  const std::vector<std::string> lines = content_lines(text);
  require(n == int64_t(lines.size()) || n == int64_t(lines.size()) - 1, "row count");
  const size_t first = lines.size() - size_t(n);  // 1 when the first line is a header
  const std::vector<double> values = x.to_vector();
  for (int64_t r = 0; r < n; ++r) {
    const std::vector<std::string> fields = split(lines[first + size_t(r)], ',');
    require(int64_t(fields.size()) == d, "row " + std::to_string(r) + " has another width");
    for (int64_t c = 0; c < d; ++c) {
      const double v = values[size_t(r * d + c)];
      require(std::isfinite(v) && std::abs(v) <= kMaxCsvValue, "value out of range accepted");
      const std::string field = trimmed(fields[size_t(c)]);
      char* end = nullptr;
      const double expected = std::strtod(field.c_str(), &end);
      require(end == field.c_str() + field.size() && !field.empty(), "a non-number accepted");
      require(std::memcmp(&v, &expected, sizeof v) == 0, "value differs from its text");
    }
  }
}

void read_and_check(const std::string& text, size_t max_line_bytes) {
  std::istringstream in(text);
  try {
    check_accepted(parse_points_csv(in, "fuzz.csv", max_line_bytes), text);
  } catch (const CsvError& e) {
    const std::string message = e.what();
    require(message.rfind("fuzz.csv", 0) == 0, "refusal does not name the source: " + message);
    require(message.find('\n') == std::string::npos, "refusal is not one line: " + message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  read_and_check(text, kMaxCsvLineBytes);
  read_and_check(text, 64);
  return 0;
}
