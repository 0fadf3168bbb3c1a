#include "cli/cli_registry.hpp"

namespace mosaic::cli {

std::vector<CommandFactory>& command_registry() {
  static std::vector<CommandFactory> registry;
  return registry;
}

std::string_view version_string() { return "0.1.0"; }

}  // namespace mosaic::cli
