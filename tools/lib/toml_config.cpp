// toml_config.cpp — TOML config files for CLI11 (see toml_config.h).
#include "tools/lib/toml_config.h"

#include "tools/lib/cli.h"

#include <toml++/toml.h>

#include <memory>
#include <sstream>
#include <string>

namespace tg::tools {

namespace {

// The value of `key` as the text its flag would take.
std::string value_text(const toml::node& node, const std::string& key, const std::string& where) {
  if (auto s = node.value_exact<std::string>()) return *s;
  if (auto b = node.value_exact<bool>()) return *b ? "true" : "false";
  if (auto i = node.value_exact<int64_t>()) return std::to_string(*i);
  if (auto f = node.value_exact<double>()) return cli::format_double(*f);
  if (auto array = node.as_array()) {
    std::string list;
    for (const auto& item : *array) {
      auto i = item.value_exact<int64_t>();
      if (!i) throw CLI::ConfigError(where + ": '" + key + "' must be a list of integers");
      list += (list.empty() ? "" : ",") + std::to_string(*i);
    }
    return list;
  }
  throw CLI::ConfigError(where + ": '" + key + "' has an unsupported value type");
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
    os << where << ": " << e.description() << " (line " << e.source().begin.line << ")";
    throw CLI::ConfigError(os.str());
  }
  std::vector<CLI::ConfigItem> items;
  for (const auto& [key, node] : file) {
    const std::string name(key.str());
    const CLI::Option* option = app_.get_option_no_throw("--" + name);
    if (option == nullptr || !option->get_configurable()) {
      throw CLI::ConfigError(where + ": unknown key '" + name + "'");
    }
    items.push_back({{}, name, {value_text(node, name, where)}});
  }
  return items;
}

CLI::Option* add_toml_config(CLI::App& app, const std::string& meaning) {
  app.config_formatter(std::make_shared<TomlConfig>(app));
  return app.set_config("--config", "", meaning)->type_name("FILE");
}

}  // namespace tg::tools
