// The `mosaic` command: every sub-command lives in its own file and registers itself through
// cli_registry.hpp. This file only parses, dispatches and translates errors into exit codes.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include "cli/cli_registry.hpp"
#include "mosaic/errors.hpp"

int main(int argc, char** argv) {
  CLI::App app{"mosaic: behavioural features from animal tracks, cached and traceable"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(mosaic::cli::version_string()));
  std::vector<mosaic::cli::Command*> commands;
  for (const auto& registration : mosaic::cli::command_registry()) {
    commands.push_back(registration(app));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto* cmd : commands)
      if (cmd->parsed()) return cmd->run();
    return 0;
  } catch (const mosaic::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return 70;
  }
}
