// toml_config.h — CLI11 reads --config FILE as TOML, parsed by toml++.
//
// Each top-level key names an option of the App without its dashes (`layers = 4` is --layers 4)
// and gives its value as the flag would: strings, integers and floats as themselves, an array
// of integers as the comma-separated list of a list option (`ks = [2, 3, 4, 5]` is --ks
// 2,3,4,5), a boolean for a flag (`resume = true`). CLI11 then applies each value where the
// command line did not set that option, so a flag wins over the file. A key that names no
// option, or one that a file may not set (--config itself, --help, any option marked
// configurable(false)), is refused: "config FILE: unknown key 'x'"; so are TOML syntax errors
// ("config FILE: <what> (line L)"), tables, dates, arrays of anything but integers, an array for
// a one-value option ("'layers' takes one value, not a list"), a boolean for anything but a flag
// and anything but a boolean for a flag, and a string holding a NUL byte (no command line can).
// Every message is one line: what the file held is quoted with cli::quote, toml++'s description
// with its unprintable bytes as \xNN (tests/fuzz/fuzz_config.cpp holds the reader to this).
#pragma once
#include <CLI/CLI.hpp>
#include <istream>
#include <vector>

namespace tg::tools {

class TomlConfig : public CLI::ConfigTOML {
 public:
  // `app` is the App whose set_config option names the file (it must outlive this).
  explicit TomlConfig(const CLI::App& app) : app_(app) {}
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

 private:
  const CLI::App& app_;
};

// Installs TomlConfig as `app`'s config reader, behind the option --config FILE.
CLI::Option* add_toml_config(CLI::App& app, const std::string& meaning);

}  // namespace tg::tools
