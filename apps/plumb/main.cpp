// plumb — one binary, many subcommands (see `plumb --help`).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "command.h"

namespace plumb::app {

std::vector<Command>& command_registry() {
  static std::vector<Command> commands;
  return commands;
}

bool stdout_is_terminal() { return isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr; }
bool stderr_is_terminal() { return isatty(STDERR_FILENO) && std::getenv("NO_COLOR") == nullptr; }

void print_error(const std::string& command, const std::string& message) {
  const bool color = stderr_is_terminal();
  std::fprintf(stderr, "plumb %s: %serror:%s %s\n", command.c_str(), color ? "\033[1;31m" : "",
               color ? "\033[0m" : "", message.c_str());
}

}  // namespace plumb::app

int main(int argc, char** argv) {
  using namespace plumb::app;
  CLI::App app{
      "plumb — run language models locally and keep them honest.\n"
      "Engine (GGUF models on the CPU), watermark generation and detection, document index.\n"
      "Run `plumb COMMAND --help` for a command's options and examples."};
  app.set_version_flag("--version", "plumb 0.1.0");
  app.require_subcommand(1);
  app.fallthrough(false);

  auto& commands = command_registry();
  std::sort(commands.begin(), commands.end(), [](const Command& a, const Command& b) { return a.order < b.order; });
  std::function<int()> run;
  for (auto& cmd : commands) {
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.description);
    auto fn = cmd.setup(*sub);
    sub->callback([&run, fn] { run = fn; });
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (!run) return kExitUsage;
  try {
    return run();
  } catch (const std::exception& e) {
    print_error("", std::string("unexpected failure: ") + e.what());
    return kExitError;
  }
}
