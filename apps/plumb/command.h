// Subcommand registry for the `plumb` binary.  Each apps/plumb/cmd_<name>.cpp defines
// one subcommand and registers it with a static CommandRegistration, so adding a
// command touches no other file.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace plumb::app {

// Exit codes, documented in README.md.
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,        // the operation failed (bad input file, model error, ...)
  kExitUsage = 2,        // bad command line
  kExitNotFound = 3,     // a named file, key or record does not exist
  kExitDetected = 10,    // `plumb detect`: watermark detected (only with --exit-code)
};

struct Command {
  std::string name;
  int order;  // position in `plumb --help`
  // Adds the subcommand's options to `sub` and returns the function that runs it.
  std::function<std::function<int()>(CLI::App& sub)> setup;
  std::string description;
};

std::vector<Command>& command_registry();

struct CommandRegistration {
  CommandRegistration(std::string name, int order, std::string description,
                      std::function<std::function<int()>(CLI::App&)> setup) {
    command_registry().push_back({std::move(name), order, std::move(setup), std::move(description)});
  }
};

// Prints "plumb <cmd>: error: <message>" to stderr (red on a terminal).
void print_error(const std::string& command, const std::string& message);
// True when stdout / stderr is a terminal and NO_COLOR is unset.
bool stdout_is_terminal();
bool stderr_is_terminal();

}  // namespace plumb::app
