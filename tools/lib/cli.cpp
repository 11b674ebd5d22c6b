// cli.cpp — typed command-line options (see cli.h).
#include "tools/lib/cli.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace tg::tools::cli {

namespace {

// Help lines as "--batch INT [16]  meaning": the type, then the default in brackets.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_opts(const CLI::Option* opt) const override {
    if (opt->get_type_size() == 0) return "";  // a flag
    std::string text = " " + opt->get_type_name();
    if (!opt->get_default_str().empty()) text += " [" + opt->get_default_str() + "]";
    if (opt->get_required()) text += " REQUIRED";
    return text;
  }
};

}  // namespace

void configure(CLI::App& app) {
  app.option_defaults()->always_capture_default();
  auto formatter = std::make_shared<HelpFormatter>();
  formatter->column_width(38);
  app.formatter(formatter);
}

std::optional<int> parse(CLI::App& app, int argc, char** argv, const std::string& program) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(program, e.what());
  } catch (const std::exception& e) {  // a value refused by an option's own parser
    return usage_error(program, e.what());
  }
  return std::nullopt;
}

bool read_double(const std::string& text, double& value) {
  if (text.empty()) return false;
  char* end = nullptr;
  const double parsed = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return false;
  value = parsed;
  return true;
}

std::string format_double(double value) {
  std::ostringstream plain;  // "0.0001" rather than "1e-04", where six digits say it exactly
  plain << value;
  double back = 0;
  if (read_double(plain.str(), back) && back == value) return plain.str();
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  return std::string(text, end);
}

int usage_error(const std::string& program, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", program.c_str(), message.c_str());
  return 2;
}

std::string printable(std::string_view text, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < max_bytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return text.size() > max_bytes ? out + "..." : out;
}

std::string quote(const std::string& text) { return "'" + printable(text, 40) + "'"; }

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& flag,
                                    bool positive) {
  const std::string refused = flag + ": " + quote(text) + " is not a comma-separated list of " +
                              (positive ? "positive integers" : "integers");
  std::vector<int64_t> values;
  std::stringstream items(text);
  for (std::string item; std::getline(items, item, ',');) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || (positive && v < 1)) {
      throw CLI::ValidationError(refused);
    }
    values.push_back(v);
  }
  if (values.empty()) throw CLI::ValidationError(flag + ": empty list");
  return values;
}

std::string format_int_list(const std::vector<int64_t>& values) {
  std::string text;
  for (int64_t v : values) text += (text.empty() ? "" : ",") + std::to_string(v);
  return text;
}

CLI::Option* add_int_list(CLI::App& app, const std::string& flag, std::vector<int64_t>& values,
                          const std::string& meaning, bool positive) {
  return app
      .add_option_function<std::string>(
          flag,
          [&values, flag, positive](const std::string& text) {
            values = parse_int_list(text, flag, positive);
          },
          meaning)
      ->type_name(positive ? "N,..." : "INT,...")
      ->default_str(format_int_list(values));
}

CLI::Option* add_name_list(CLI::App& app, const std::string& flag, std::vector<std::string>& values,
                           const std::vector<std::string>& known, const std::string& noun,
                           const std::string& meaning) {
  std::string expected;
  for (const auto& k : known) expected += (expected.empty() ? "" : ", ") + k;
  std::string shown;
  for (const auto& v : values) shown += (shown.empty() ? "" : ",") + v;
  return app
      .add_option_function<std::string>(
          flag,
          [&values, known, flag, noun, expected](const std::string& text) {
            std::vector<std::string> names;
            std::stringstream items(text);
            for (std::string name; std::getline(items, name, ',');) {
              if (std::find(known.begin(), known.end(), name) == known.end()) {
                throw CLI::ValidationError(flag + ": unknown " + noun + " " + quote(name) +
                                           " (expected " + expected + ")");
              }
              if (std::find(names.begin(), names.end(), name) == names.end()) {
                names.push_back(name);
              }
            }
            if (names.empty()) throw CLI::ValidationError(flag + ": empty list");
            values = names;
          },
          meaning)
      ->type_name("NAME,...")
      ->default_str(shown);
}

CLI::Validator range(int64_t lo, int64_t hi) {
  return CLI::Range(lo, hi).description(std::to_string(lo) + ".." + std::to_string(hi));
}

CLI::Validator at_least(double lo, bool strict, const std::string& shown) {
  std::ostringstream bound;
  bound << (strict ? "> " : ">= ") << lo;
  return CLI::Validator(
      [lo, strict, bound = bound.str()](std::string& text) -> std::string {
        double v = 0;
        if (!read_double(text, v)) return quote(text) + " is not a valid number";
        if (strict ? v > lo : v >= lo) return "";
        const bool plain = quote(text) == "'" + text + "'";  // printable, short: as typed
        return "must be " + bound + ", got " + (plain ? text : quote(text));
      },
      shown);
}

CLI::Option* add_text(CLI::App& app, const std::string& flag, std::string& value,
                      const std::string& type, const std::string& meaning) {
  return app.add_option(flag, value, meaning)->type_name(type)->capture_default_str();
}

}  // namespace tg::tools::cli
