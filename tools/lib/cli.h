// cli.h — typed command-line options, the same way in every program (CLI11).
//
// Each option is bound straight to a field of the program's options struct; the field's value
// before parsing is the default, and --help shows every option with its type, its default in
// [brackets] and a one-line meaning. Values the option cannot take are refused with the flag
// named, in one line:
//   --layers x        "--layers: 'x' is not a valid number"
//   --ks 2,,3         "--ks: '2,,3' is not a comma-separated list of integers"
//   --methods em,foo  "--methods: unknown method 'foo' (expected em-paper, ...)"
// A program calls parse(): help goes to stdout (exit 0), a bad flag to stderr as
// "PROGRAM: message" (exit 2).
#pragma once
#include <CLI/CLI.hpp>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace tg::tools::cli {

// A new program's App: help shows defaults, in a column wide enough for the longest flags.
void configure(CLI::App& app);

// Parse the command line. nullopt: carry on. Otherwise the exit code to return now: 0 after
// --help (printed), 2 after a bad flag or value (one line on stderr, "PROGRAM: message").
// Besides CLI11's own errors, exceptions thrown while the options take their values (the
// callbacks of add_choice) count as bad values.
std::optional<int> parse(CLI::App& app, int argc, char** argv, const std::string& program);

// "PROGRAM: message" on stderr; returns 2 (the exit code of every usage error).
int usage_error(const std::string& program, const std::string& message);

// Text for a one-line message: at most max_bytes bytes of it (then "..."), every byte that is not
// printable ASCII as \xNN ("a\x0ab").
std::string printable(std::string_view text, size_t max_bytes);
// What a user typed, or a file held, for a one-line message: printable(text, 40) in single
// quotes ('x', 'a\x0ab').
std::string quote(const std::string& text);

// A number (integer or floating point, as T says), refused unless the whole text is one.
template <class T>
CLI::Option* add_number(CLI::App& app, const std::string& flag, T& value,
                        const std::string& meaning);

// A comma-separated list of integers, "2,3,4" (a TOML array in a config file). positive: every
// value must be >= 1 ("... a comma-separated list of positive integers").
CLI::Option* add_int_list(CLI::App& app, const std::string& flag, std::vector<int64_t>& values,
                          const std::string& meaning, bool positive = false);
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& flag,
                                    bool positive = false);
std::string format_int_list(const std::vector<int64_t>& values);

// A comma-separated list of names, each one of `known` (refused as "unknown <noun> 'x'"),
// repeats dropped.
CLI::Option* add_name_list(CLI::App& app, const std::string& flag, std::vector<std::string>& values,
                           const std::vector<std::string>& known, const std::string& noun,
                           const std::string& meaning);

// A check that an integer lies in [lo, hi], shown in the help as "INT:lo..hi".
CLI::Validator range(int64_t lo, int64_t hi);
// A check that a number is at least `lo` (above it, when strict): "--tasks: must be > 0, got 0";
// `shown` is added to the type in the help ("INT:POSITIVE"), nothing when empty.
CLI::Validator at_least(double lo, bool strict, const std::string& shown = "");

// Text, shown with `type` in the help (e.g. "gpt2|set"); checked later by whoever uses it.
CLI::Option* add_text(CLI::App& app, const std::string& flag, std::string& value,
                      const std::string& type, const std::string& meaning);

// A named value of an enum: `parse` turns the text into it (throwing std::invalid_argument
// with its own message for an unknown name), `name` back into text for the help.
// A name that does not print as itself (too long, or bytes that are not printable ASCII) is
// refused as "--flag: 'quoted' (expected TYPE)" rather than in `parse`'s words.
template <class E, class Parse, class Name>
CLI::Option* add_choice(CLI::App& app, const std::string& flag, E& value, Parse parse, Name name,
                        const std::string& type, const std::string& meaning) {
  return app
      .add_option_function<std::string>(
          flag,
          [&value, parse, flag, type](const std::string& text) {
            if (quote(text) != "'" + text + "'") {
              throw CLI::ValidationError(flag + ": " + quote(text) + " (expected " + type + ")");
            }
            value = parse(text);
          },
          meaning)
      ->type_name(type)
      ->default_str(name(value));
}

// ------------------------------------------------------------------------------ details

// Floating-point text to a double, correctly rounded (strtod); false unless all of it is read.
bool read_double(const std::string& text, double& value);
// Decimal integer text (an optional leading '+'), all of it, in range of T; "010" is ten,
// not octal eight as CLI11's own conversion would read it.
template <class T>
bool read_integer(const std::string& text, T& value) {
  const char* first = text.data();
  const char* last = first + text.size();
  if (first != last && *first == '+') ++first;
  if (first == last || *first == '+' || *first == ' ') return false;
  const auto [end, error] = std::from_chars(first, last, value, 10);
  return error == std::errc() && end == last;
}
// The shortest text that reads back as `value`.
std::string format_double(double value);

// The validator behind add_number: "'x' is not a valid number" unless T reads the whole text.
template <class T>
CLI::Validator number_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        T parsed{};
        bool ok = false;
        if constexpr (std::is_floating_point_v<T>) {
          double d = 0;
          ok = read_double(text, d);
        } else {
          ok = read_integer(text, parsed);
        }
        return ok ? "" : quote(text) + " is not a valid number";
      },
      "");
}

// Integers convert as decimal (read_integer); doubles through strtod (CLI11 goes through long
// double, which can round differently in the last bit).
template <class T>
CLI::Option* add_number(CLI::App& app, const std::string& flag, T& value,
                        const std::string& meaning) {
  if constexpr (std::is_same_v<T, double>) {
    return app
        .add_option_function<std::string>(
            flag, [&value](const std::string& text) { read_double(text, value); }, meaning)
        ->check(number_check<T>())
        ->type_name("FLOAT")
        ->default_str(format_double(value));
  } else {
    return app
        .add_option_function<std::string>(
            flag, [&value](const std::string& text) { read_integer(text, value); }, meaning)
        ->check(number_check<T>())
        ->type_name(std::is_signed_v<T> ? "INT" : "UINT")
        ->default_str(std::to_string(value));
  }
}

}  // namespace tg::tools::cli
