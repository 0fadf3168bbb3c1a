// cli_registry.hpp: how a sub-command file plugs itself into the `mosaic` command.
//
//   class InfoCommand final : public Command { ... };
//   MOSAIC_REGISTER_COMMAND(InfoCommand);
//
// Each command adds its CLI11 sub-app in its constructor and does its work in run().
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace mosaic::cli {

class Command {
 public:
  virtual ~Command() = default;
  /// True when this sub-command was given on the command line.
  bool parsed() const { return sub_ != nullptr && sub_->parsed(); }
  /// Do the work; return the process exit code. Throw mosaic::Error for user mistakes.
  virtual int run() = 0;

 protected:
  CLI::App* sub_ = nullptr;
};

using CommandFactory = std::function<Command*(CLI::App&)>;
std::vector<CommandFactory>& command_registry();
std::string_view version_string();

struct CommandRegistration {
  explicit CommandRegistration(CommandFactory factory) { command_registry().push_back(std::move(factory)); }
};

}  // namespace mosaic::cli

// Commands live for the whole process; leaking them on purpose keeps destruction order trivial.
#define MOSAIC_REGISTER_COMMAND(TYPE)                                                         \
  static ::mosaic::cli::CommandRegistration mosaic_cli_registration_##TYPE(                  \
      [](CLI::App& app) -> ::mosaic::cli::Command* { return new TYPE(app); })
