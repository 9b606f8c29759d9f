// The one boucle executable: a thin front end over the core library.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"boucle: build, test, release, deploy and watch, in one program"};
  app.set_version_flag("--version", "boucle 0.1.0");
  app.require_subcommand(1);
  int exitCode = 0;
  boucle::cli::addRunCommand(app, &exitCode);
  boucle::cli::addLintCommand(app, &exitCode);
  boucle::cli::addServerCommand(app, &exitCode);
  boucle::cli::addClientCommands(app, &exitCode);
  boucle::cli::addReleaseCommands(app, &exitCode);
  boucle::cli::addDeployCommands(app, &exitCode);
  boucle::cli::addTokenCommands(app, &exitCode);
  boucle::cli::addUserCommands(app, &exitCode);
  boucle::cli::addTestCommands(app, &exitCode);
  boucle::cli::addFsckCommand(app, &exitCode);
  boucle::cli::addMigrateCommand(app, &exitCode);
  boucle::cli::addAgentCommands(app, &exitCode);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : boucle::cli::kExitUsage;
  }
  return exitCode;
}
