// fuzz_config.cpp — libFuzzer target for the --config TOML file of tools/train
// (tools/lib/toml_config.cpp, read through tools/lib/train_flags.cpp as the program reads it).
//
// The input is the file. It goes into an in-memory file (memfd), given as --config
// /proc/self/fd/N to a fresh TrainFlags, parsed and resolved as tools/train does. The contract:
//   - refused: while parsing, a std::exception (a CLI11 error or a value's own std::exception;
//     tools::cli::parse); while resolving, a std::invalid_argument — exactly what tools/train
//     prints after "train: " before it exits with code 2. Its message is one line of printable
//     ASCII, at most 300 bytes besides the file's path. Resolving reads a checkpoint only with
//     --resume and one in --out; none exists where the fuzzer runs, so any other exception there
//     (a std::runtime_error: exit code 1) is a failure;
//   - accepted: the file says what the same settings say as flags. An independent reading of the
//     file (toml++ on its own: each top-level key, its value as the flag's text — a string
//     without NUL bytes as itself, an integer in decimal, a float in its shortest form, a boolean
//     as true/false, an array of integers comma-separated) given as --key=text on the command line
//     of another TrainFlags must be accepted too, and give the same value for every setting; every
//     key of the file counts as given. A key the reader skipped, a value it read in part or as
//     another one, or a value of a type it should refuse (a table, a float array) breaks this.
// Anything else (another exception type, a crash, a sanitizer report, a hang under -timeout, an
// allocation over -malloc_limit_mb) is a failure: the fuzzer stops and saves the input.
#include <sys/mman.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tools/lib/train_flags.h"

using namespace tg;

namespace {

[[noreturn]] void broken(const std::string& what) {
  std::fprintf(stderr, "fuzz_config: contract broken: %s\n", what.c_str());
  std::abort();
}

void require(bool ok, const std::string& what) {
  if (!ok) broken(what);
}

// An in-memory file holding the current input, opened by path.
struct MemoryFile {
  int fd = ::memfd_create("fuzz.toml", MFD_CLOEXEC);
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  void fill(const uint8_t* data, size_t size) {
    require(fd >= 0 && ::ftruncate(fd, 0) == 0, "memfd");
    for (size_t done = 0; done < size;) {
      const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
      require(n > 0, "memfd write");
      done += static_cast<size_t>(n);
    }
  }
};

// The settings tools/train would run with for this command line, or the refusal's message.
struct Outcome {
  std::optional<gmm::TrainOptions> options;
  std::string refusal;
  std::vector<std::string> given;  // the settings named on the command line or in the file
};

// Parse and resolve `args` (argv without the program) as tools/train does; `texts` gets every
// setting's value as text, in the order of TrainFlags::names().
Outcome run(std::vector<std::string> args, std::vector<std::string>& texts) {
  Outcome outcome;
  CLI::App app;
  tools::TrainFlags flags(app);
  std::vector<char*> argv = {const_cast<char*>("train")};
  for (auto& a : args) argv.push_back(a.data());
  try {  // what tools::cli::parse maps to exit code 2, --help (exit 0) aside
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::Success&) {
    broken("the input asked for --help");
  } catch (const std::exception& e) {
    outcome.refusal = e.what();
    return outcome;
  }
  try {  // tools/train: std::invalid_argument is exit code 2; anything else here is not a refusal
    outcome.options = flags.resolve();
  } catch (const std::invalid_argument& e) {
    outcome.refusal = e.what();
    return outcome;
  }
  for (const auto& name : flags.names()) {
    if (flags.given(name)) outcome.given.push_back(name);
    texts.push_back(flags.value_of(*outcome.options, name));
  }
  return outcome;
}

void check_refusal(const std::string& message, const std::string& path) {
  require(!message.empty(), "an empty refusal");
  for (unsigned char c : message) {
    require(c >= 0x20 && c < 0x7f, "refusal is not one line of printable ASCII: " + message);
  }
  require(message.size() <= 300 + path.size(), "refusal longer than 300 bytes: " + message);
}

// The shortest text of a double that reads back as it (independent of cli::format_double).
std::string shortest(double v) {
  char text[32];
  return std::string(text, std::to_chars(text, text + sizeof text, v).ptr);
}

// The file read on its own: "--key=text" for each top-level key; nullopt when the file is not a
// TOML table of values a flag can take (then the reader must have refused it).
std::optional<std::vector<std::string>> independent_flags(const uint8_t* data, size_t size) {
  toml::table file;
  try {
    file = toml::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const toml::parse_error&) {
    return std::nullopt;
  }
  std::vector<std::string> args;
  for (const auto& [key, node] : file) {
    std::string text;
    if (auto s = node.value_exact<std::string>()) {
      if (s->find('\0') != std::string::npos) return std::nullopt;  // no argv can hold it
      text = *s;
    } else if (auto b = node.value_exact<bool>()) {
      text = *b ? "true" : "false";
    } else if (auto i = node.value_exact<int64_t>()) {
      text = std::to_string(*i);
    } else if (auto f = node.value_exact<double>()) {
      text = shortest(*f);
    } else if (auto array = node.as_array()) {
      for (const auto& item : *array) {
        auto i = item.value_exact<int64_t>();
        if (!i) return std::nullopt;
        text += (text.empty() ? "" : ",") + std::to_string(*i);
      }
    } else {
      return std::nullopt;
    }
    args.push_back("--" + std::string(key.str()) + "=" + text);
  }
  return args;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static MemoryFile file;
  file.fill(data, size);
  std::vector<std::string> from_file_texts;
  const Outcome from_file = run({"--config", file.path}, from_file_texts);
  if (!from_file.options) {
    check_refusal(from_file.refusal, file.path);
    return 0;
  }
  const auto args = independent_flags(data, size);
  require(args.has_value(), "accepted a file that is not a TOML table of flag values");
  std::vector<std::string> from_flags_texts;
  const Outcome from_flags = run(*args, from_flags_texts);
  require(from_flags.options.has_value(),
          "accepted a file whose settings as flags are refused: " + from_flags.refusal);
  require(from_file_texts == from_flags_texts, [&] {
    std::string differing;
    for (size_t i = 0; i < from_file_texts.size(); ++i) {
      if (from_file_texts[i] != from_flags_texts[i]) {
        differing += " '" + from_file_texts[i] + "' from the file, '" + from_flags_texts[i] +
                     "' from the flags;";
      }
    }
    return "settings differ:" + differing;
  }());
  require(from_file.given == from_flags.given, "the file and the flags give different settings");
  require(from_file.options->device == from_flags.options->device &&
              from_file.options->baselines == from_flags.options->baselines &&
              from_file.options->model.dtype == from_flags.options->model.dtype,
          "options beyond the settings differ");
  return 0;
}
