// toml_config.cpp — TOML config files for CLI11 (see toml_config.h).
#include "tools/lib/toml_config.h"

#include "tools/lib/cli.h"

#include <toml++/toml.h>

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

namespace tg::tools {

namespace {

// The value of `key` (of `option`) as the text its flag would take. A flag (--resume) takes a
// boolean, and only a flag does; an array of integers goes to a list setting (type "INT,...")
// only; strings (without NUL bytes), integers and floats to any other.
std::string value_text(const toml::node& node, const CLI::Option& option, const std::string& key,
                       const std::string& where) {
  auto refuse = [&](const std::string& why) -> std::string {
    throw CLI::ConfigError(where + ": " + cli::quote(key) + " " + why);
  };
  const std::string type = option.get_type_name();
  const bool flag = option.get_expected_max() == 0;  // takes no value on the command line
  const bool list = type.size() > 4 && type.compare(type.size() - 4, 4, ",...") == 0;
  if (auto b = node.value_exact<bool>()) {
    return flag ? (*b ? "true" : "false") : refuse("takes " + type + ", not a boolean");
  }
  if (flag) return refuse("must be true or false");
  if (auto s = node.value_exact<std::string>()) {
    // A command line cannot hold a NUL byte, and a path would silently end at it.
    return s->find('\0') == std::string::npos ? *s : refuse("holds a NUL byte (\\u0000)");
  }
  if (auto i = node.value_exact<int64_t>()) return std::to_string(*i);
  if (auto f = node.value_exact<double>()) return cli::format_double(*f);
  if (auto array = node.as_array()) {
    if (!list) return refuse("takes one value, not a list");
    std::string text;
    for (const auto& item : *array) {
      auto i = item.value_exact<int64_t>();
      if (!i) return refuse("must be a list of integers");
      text += (text.empty() ? "" : ",") + std::to_string(*i);
    }
    return text;
  }
  return refuse("has an unsupported value type");
}

}  // namespace

std::vector<CLI::ConfigItem> TomlConfig::from_config(std::istream& input) const {
  const CLI::Option* config = app_.get_config_ptr();
  const std::string path = config && !config->results().empty() ? config->results().front() : "";
  const std::string where = "config " + path;
  toml::table file;
  try {
    file = toml::parse(input, path);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << where << ": " << cli::printable(e.description(), 160) << " (line "
       << e.source().begin.line << ")";
    throw CLI::ConfigError(os.str());
  }
  std::vector<CLI::ConfigItem> items;
  for (const auto& [key, node] : file) {
    const std::string name(key.str());
    const CLI::Option* option = app_.get_option_no_throw("--" + name);
    if (option == nullptr || !option->get_configurable()) {
      throw CLI::ConfigError(where + ": unknown key " + cli::quote(name));
    }
    items.push_back({{}, name, {value_text(node, *option, name, where)}});
  }
  return items;
}

CLI::Option* add_toml_config(CLI::App& app, const std::string& meaning) {
  app.config_formatter(std::make_shared<TomlConfig>(app));
  return app.set_config("--config", "", meaning)->type_name("FILE");
}

}  // namespace tg::tools
